// SDK v3 clients for the handlers. Endpoints come from the SDK's standard environment variables
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_KINESIS, …): on AWS they are
// unset and the clients reach the real services; the local platform sets them to its stand-ins.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Throttling is absorbed here with the SDK's adaptive backoff before the pipeline sees an error. */
export const dynamoClient = (): DynamoDBClient => new DynamoDBClient({ maxAttempts: 8 });

export const sqsClient = (): SQSClient => new SQSClient({ maxAttempts: 5 });

/**
 * Kinesis over HTTP/1.1: the SDK defaults to HTTP/2 for Kinesis, which kinesalite does not speak;
 * the data-plane calls Fathom makes (PutRecords, GetRecords) work the same over HTTP/1.1 on AWS.
 */
export const kinesisClient = (): KinesisClient => new KinesisClient({ maxAttempts: 5, requestHandler: new NodeHttpHandler() });
