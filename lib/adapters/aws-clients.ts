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
export const dynamoClient = (): DynamoDBClient => new DynamoDBClient({ maxAttempts: 8 });

export const sqsClient = (): SQSClient => new SQSClient({ maxAttempts: 5 });

