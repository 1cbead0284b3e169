// Invokes a Kinesis-triggered function once, as Lambda would: a fresh Context with a deadline, the
// function timeout enforced, and the response read by the rules of ReportBatchItemFailures.
import { randomUUID } from 'node:crypto';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { toStreamEvent, type EventSourceIdentity, type ShardRecord } from './kinesis-event';

/** A Kinesis-triggered handler; a void result means success, as with Lambda's own handler type. */
export type KinesisFunction = (
  event: KinesisStreamEvent,
  context: Context,
) => Promise<KinesisStreamBatchResponse | void>;

export interface FunctionIdentity {
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutMs: number;
  readonly memoryLimitInMB: number;
}

export type InvocationOutcome =
  | { readonly kind: 'success' }
  /** The function reported failed items: everything from `retryFrom` on is retried. */
  | { readonly kind: 'partial'; readonly retryFrom: number }
  /** The function threw, timed out, or answered a malformed failure report. */
  | { readonly kind: 'error'; readonly error: unknown };

export class FunctionTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

export interface Invocation {
  readonly requestId: string;
  readonly outcome: InvocationOutcome;
}

export async function invokeFunction(
  fn: KinesisFunction,
  records: readonly ShardRecord[],
  source: EventSourceIdentity,
  identity: FunctionIdentity,
  reportBatchItemFailures: boolean,
): Promise<Invocation> {
  const requestId = randomUUID();
  const deadline = Date.now() + identity.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FunctionTimeoutError(identity.timeoutMs)), identity.timeoutMs);
  });
  try {
    // Unlike Lambda, a timed-out invocation cannot be frozen: it keeps running in this process, and
    // its late writes are what a retry would race with on AWS too when the sandbox is reused.
    const response = await Promise.race([fn(toStreamEvent(records, source), lambdaContext(identity, requestId, deadline)), timeout]);
    return { requestId, outcome: reportBatchItemFailures ? readFailureReport(response, records) : { kind: 'success' } };
  } catch (error) {
    return { requestId, outcome: { kind: 'error', error } };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lambda's reading of a partial batch response: no report, or an empty list, is success; otherwise
 * it checkpoints before the lowest failed sequence number. A null, empty or unknown identifier
 * makes the whole batch fail.
 */
export function readFailureReport(response: unknown, records: readonly ShardRecord[]): InvocationOutcome {
  if (response === undefined || response === null) return { kind: 'success' };
  if (typeof response !== 'object') return { kind: 'success' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return malformed('batchItemFailures is not a list');
  if (failures.length === 0) return { kind: 'success' };
  let retryFrom = Number.POSITIVE_INFINITY;
  for (const failure of failures as unknown[]) {
    const id = typeof failure === 'object' && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    const index = typeof id === 'string' && id !== '' ? records.findIndex((r) => r.sequenceNumber === id) : -1;
    if (index < 0) return malformed(`itemIdentifier ${JSON.stringify(id)} is not a sequence number of this batch`);
    retryFrom = Math.min(retryFrom, index);
  }
  return { kind: 'partial', retryFrom };
}

function malformed(reason: string): InvocationOutcome {
  return { kind: 'error', error: new TypeError(`invalid partial batch response: ${reason}`) };
}

function lambdaContext(identity: FunctionIdentity, requestId: string, deadline: number): Context {
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name} is not supported: return (or throw) from an async handler instead`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: identity.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: identity.functionArn,
    memoryLimitInMB: String(identity.memoryLimitInMB),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${identity.functionName}`,
    logStreamName: `local/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
