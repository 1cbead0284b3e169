// SDK clients and environment pointed at the embedded stand-ins. Handlers build their own clients
// from the standard AWS_* variables (as on Lambda); the local platform's own code uses these.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface StandInEndpoints {
  readonly dynamodb: string;
  readonly kinesis: string;
  readonly s3: string;
  readonly sqs: string;
  readonly kms: string;
  readonly firehose: string;
}

export const LOCAL_REGION = 'us-east-1';
/** The account id every stand-in puts in its ARNs and queue URLs. */
export const LOCAL_ACCOUNT_ID = '000000000000';
/**
 * s3rver verifies request signatures against its own fixed key pair; dynalite, kinesalite and the
 * SQS, KMS and Firehose endpoints ignore credentials. One pair for every client therefore works everywhere.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalClients {
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly firehose: FirehoseClient;
  /** Closes every client's sockets, so the stand-ins can shut down without waiting on keep-alive. */
  destroy(): void;
}

export function localClients(endpoints: StandInEndpoints): LocalClients {
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  // The Kinesis client defaults to HTTP/2, which kinesalite does not speak.
  const kinesis = new KinesisClient({ ...common, endpoint: endpoints.kinesis, requestHandler: new NodeHttpHandler() });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  // s3rver resolves buckets from the path only: virtual-host names would not resolve on 127.0.0.1.
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const kms = new KMSClient({ ...common, endpoint: endpoints.kms });
  const firehose = new FirehoseClient({ ...common, endpoint: endpoints.firehose });
  return {
    dynamodb,
    kinesis,
    sqs,
    s3,
    kms,
    firehose,
    destroy() {
      for (const client of [dynamodb, kinesis, sqs, s3, kms, firehose]) client.destroy();
    },
  };
}

/**
 * The variables a Lambda would see, pointing its SDK clients at the stand-ins through the SDK's
 * service-specific endpoint variables (AWS_ENDPOINT_URL_<SERVICE>).
 */
export function localAwsEnvironment(endpoints: StandInEndpoints): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_KMS: endpoints.kms,
    AWS_ENDPOINT_URL_FIREHOSE: endpoints.firehose,
  };
}
