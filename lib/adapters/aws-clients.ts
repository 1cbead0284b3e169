// SDK v3 clients for the handlers. Endpoints come from the SDK's standard environment variables
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, …): on AWS they are
// unset and the clients reach the real services; the local platform sets them to its stand-ins.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * Throttling is retried here (standard mode: exponential backoff with jitter) before the pipeline
 * sees an error. Not adaptive mode: its client-side rate limiter, fed a steady trickle of
 * throttling answers, held the handler to ~30 calls/s and stalled the stream.
 */
export const dynamoClient = (): DynamoDBClient => withoutCallLogging(new DynamoDBClient({ maxAttempts: 8 }));

/**
 * Drops the SDK's per-call logger middleware. It logs to the client's `logger`, which these
 * clients never set, yet it still builds a redacted copy of every input and output first (the
 * default NoOpLogger has an `info`, so `logger?.info?.(…)` evaluates its arguments): a walk of
 * every item through its schema, ~5% of the stream handler's CPU. Errors still reach the caller.
 */
export function withoutCallLogging<C extends { middlewareStack: { remove(name: string): boolean } }>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

export const sqsClient = (): SQSClient => new SQSClient({ maxAttempts: 5 });

