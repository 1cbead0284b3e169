// Creates the platform's stream, table and queue on the stand-ins from platformResources: the same
// definitions the CDK stacks read. Idempotent: an existing resource is accepted as it is.
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException as TableInUse,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, ResourceInUseException as StreamInUse, type KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { LocalKeySigner } from '../adapters/registry/signers/local-key-signer';
import { ResourceError } from '../core/errors';
import { ENV, type PlatformResources, type TableDefinition } from '../core/resources';

export interface ProvisionClients {
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
}

export interface ProvisionedResources {
  readonly streamName: string;
  /** The event field producers use as partition key. */
  readonly partitionKeyField: string;
  readonly streamArn: string;
  readonly shardCount: number;
  readonly tableName: string;
  readonly dlqUrl: string;
  /** False where the stand-in cannot expire items (dynalite has no UpdateTimeToLive). */
  readonly ttlEnabled: boolean;
}

const ACTIVE_TIMEOUT_MS = 10_000;

export async function provision(clients: ProvisionClients, resources: PlatformResources): Promise<ProvisionedResources> {
  const [stream, table, dlqUrl] = await Promise.all([
    ensureStream(clients.kinesis, resources.eventsStream.name, resources.eventsStream.localShards),
    ensureTable(clients.dynamodb, resources.onlineStore),
    ensureQueue(clients.sqs, resources.featureTransformDlq.name),
  ]);
  return { ...stream, partitionKeyField: resources.eventsStream.partitionKeyField, ...table, dlqUrl };
}

async function ensureStream(kinesis: KinesisClient, name: string, shards: number) {
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  } catch (error) {
    if (!(error instanceof StreamInUse)) throw error;
  }
  const summary = await untilActive(`stream ${name}`, async () => {
    const { StreamDescriptionSummary: s } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return s?.StreamStatus === 'ACTIVE' ? s : undefined;
  });
  // An existing stream keeps its shard count; the poller reads whatever shards it has.
  return { streamName: name, streamArn: summary.StreamARN ?? '', shardCount: summary.OpenShardCount ?? shards };
}

async function ensureTable(dynamodb: DynamoDBClient, table: TableDefinition) {
  const keys = [table.partitionKey, ...(table.sortKey ? [table.sortKey] : [])];
  const KeySchema: KeySchemaElement[] = keys.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? 'HASH' : 'RANGE' }));
  const AttributeDefinitions: AttributeDefinition[] = keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type }));
  try {
    await dynamodb.send(
      new CreateTableCommand({ TableName: table.name, KeySchema, AttributeDefinitions, BillingMode: 'PAY_PER_REQUEST' }),
    );
  } catch (error) {
    if (!(error instanceof TableInUse)) throw error;
  }
  await untilActive(`table ${table.name}`, async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
    return Table?.TableStatus === 'ACTIVE' ? Table : undefined;
  });
  return { tableName: table.name, ttlEnabled: table.ttlAttribute ? await enableTtl(dynamodb, table.name, table.ttlAttribute) : false };
}

/**
 * dynalite implements DescribeTimeToLive but not UpdateTimeToLive (it answers UnknownOperationException),
 * and never expires items. Locally that only means state outlives its TTL; on AWS the CDK table enables it.
 */
async function enableTtl(dynamodb: DynamoDBClient, tableName: string, attribute: string): Promise<boolean> {
  try {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } }),
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'UnknownOperationException') return false;
    // Enabling TTL twice is a ValidationException on DynamoDB; it is already on.
    if (error instanceof Error && error.name === 'ValidationException' && /already enabled/i.test(error.message)) return true;
    throw error;
  }
}

async function ensureQueue(sqs: SQSClient, name: string): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!QueueUrl) throw new ResourceError(`queue ${name}: CreateQueue returned no URL`, name, false);
  return QueueUrl;
}

async function untilActive<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new ResourceError(`${what} did not become ACTIVE within ${ACTIVE_TIMEOUT_MS} ms`, what, true);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RegistryProvisionClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
}

export interface ProvisionedRegistry {
  readonly tableName: string;
  readonly bucket: string;
  /**
   * The local platform signs models with a key pair under the data dir (LocalKeySigner), the
   * local counterpart of the KMS key on AWS; verifiers trust its public half through
   * ENV.modelSigningKey = `local:<path>`. (The KMS stand-in exists so the KmsSigner is tested
   * against the SDK's wire format; signing locally needs no running endpoint this way.)
   */
  readonly signer: LocalKeySigner;
  /** ENV.modelSigningKey's local value. */
  readonly signingKey: string;
  /** The registry's variables for a handler: table, bucket and trusted key. */
  readonly environment: Readonly<Record<string, string>>;
}

/** Where the local model-signing key pair lives under a data dir. */
export const localSigningKeyDir = (dataDir: string): string => join(dataDir, 'keys');

/**
 * Creates the model registry's table and package bucket on the stand-ins and the local signing key
 * pair under the data dir. Idempotent. The bucket is not versioned: s3rver has no versioning (the
 * registry works without object versions; on AWS the CDK bucket is versioned).
 */
export async function provisionRegistry(clients: RegistryProvisionClients, resources: PlatformResources, dataDir: string): Promise<ProvisionedRegistry> {
  const [table] = await Promise.all([ensureTable(clients.dynamodb, resources.modelRegistry), ensureBucket(clients.s3, resources.modelBucket.name)]);
  const signer = LocalKeySigner.open(localSigningKeyDir(dataDir));
  const signingKey = `local:${signer.paths.publicKeyPath}`;
  return {
    tableName: table.tableName,
    bucket: resources.modelBucket.name,
    signer,
    signingKey,
    environment: { [ENV.modelRegistryTable]: table.tableName, [ENV.modelBucket]: resources.modelBucket.name, [ENV.modelSigningKey]: signingKey },
  };
}

async function ensureBucket(s3: S3Client, name: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    // s3rver answers BucketAlreadyExists for a bucket it already holds; S3 says AlreadyOwnedByYou.
    if (error instanceof BucketAlreadyOwnedByYou || (error instanceof Error && error.name === 'BucketAlreadyExists')) return;
    throw error;
  }
}
