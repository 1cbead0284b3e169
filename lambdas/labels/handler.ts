// API Gateway (REST, proxy integration) POST /v1/labels → the offline `labels` table through its
// Firehose delivery stream. Parse, send, answer: the work is lib/adapters/api/labels-service.ts.
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { LABELS_TABLE } from '../../lib/core/offline/tables';
import { answer, bodyText } from '../../lib/adapters/api/answers';
import { readLabelsEnv } from '../../lib/adapters/api/env';
import { LabelsService } from '../../lib/adapters/api/labels-service';
import { FirehoseSink } from '../../lib/adapters/firehose-sink';

const env = readLabelsEnv();
const logger = new Logger({ serviceName: 'labels' });
const metrics = new Metrics({ namespace: 'Fathom', serviceName: 'labels' });
// The sink resends refused entries itself; the SDK's own retries cover whole failed calls.
const sink = new FirehoseSink({ client: new FirehoseClient({ maxAttempts: 3 }), deliveryStreamName: env.deliveryStream, table: LABELS_TABLE });
const service = new LabelsService(sink);

export const handler = middy(async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  answer(event, context, { logger, metrics }, async (requestId) => {
    const result = await service.submit(bodyText(event), requestId);
    metrics.addMetric('LabelsAccepted', MetricUnit.Count, result.accepted);
    return { status: 200, body: result };
  }),
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
