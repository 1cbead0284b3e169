// What every API handler does around its own work: find the request id, read the body (API
// Gateway may hand it over base64), answer JSON, and turn any error into the one envelope, logged
// in full and counted, with nothing internal in the answer.
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { EdgeError, edgeErrorAnswer } from '../../core/api/errors';

export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

export interface Observers {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** API Gateway's request id (what the client is told), else the invocation's. */
export function requestIdOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>, context: Pick<Context, 'awsRequestId'>): string {
  return event.requestContext?.requestId ?? context.awsRequestId;
}

/** The body as text; API Gateway base64-encodes bodies it treats as binary. */
export function bodyText(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): string | null {
  return event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function jsonResult(statusCode: number, body: unknown, headers: Readonly<Record<string, string>> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** The envelope for `error`: the client's mistakes logged at warn, the platform's at error with the cause. */
export function errorResult(error: unknown, requestId: string, { logger, metrics }: Observers): APIGatewayProxyResult {
  const answer = edgeErrorAnswer(error, requestId);
  if (answer.clientError) {
    logger.warn('request refused', { request_id: requestId, code: answer.body.error.code, detail: answer.body.error.message });
    metrics.addMetric('ClientErrors', MetricUnit.Count, 1);
  } else {
    logger.error('request failed', { request_id: requestId, error: error as Error, cause: (error as Error | undefined)?.cause });
    metrics.addMetric('ServerErrors', MetricUnit.Count, 1);
  }
  return jsonResult(answer.status, answer.body, error instanceof EdgeError ? error.headers : {});
}

/**
 * Runs `work` for one request: its result is answered as JSON with its status, any error as the
 * envelope. The request id is handed to `work` so that answers can carry it.
 */
export async function answer(
  event: Pick<APIGatewayProxyEvent, 'requestContext'>,
  context: Pick<Context, 'awsRequestId'>,
  observers: Observers,
  work: (requestId: string) => Promise<{ readonly status: number; readonly body: unknown }>,
): Promise<APIGatewayProxyResult> {
  const requestId = requestIdOf(event, context);
  try {
    const { status, body } = await work(requestId);
    return jsonResult(status, body);
  } catch (error) {
    return errorResult(error, requestId, observers);
  }
}
