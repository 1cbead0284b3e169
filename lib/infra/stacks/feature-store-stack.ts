// Feature store: the DynamoDB online store (one item per entity: aggregate state + feature
// vector) and the feature-transform pipeline that keeps it current from the `events` stream.
import type { StackProps } from 'aws-cdk-lib';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { KeyAttribute } from '../../core/resources';
import { platformResources } from '../../core/resources';
import type { FathomConfig } from '../config';
import { DEFAULT_CONFIG } from '../config';
import { EncryptedQueue } from '../constructs/encrypted-queue';
import { FeatureTransform } from '../constructs/feature-transform';
import { grantKeyViaService } from '../constructs/key-grants';

export interface FeatureStoreStackProps extends StackProps {
  /** The `events` stream the pipeline reads (IngestionStack.stream). */
  readonly eventsStream: kinesis.IStream;
  /**
   * Deployment settings (prefix, event source, Lambda, feature and online-store settings).
   * @default DEFAULT_CONFIG
   */
  readonly config?: FathomConfig;
  /**
   * The handler's entry file; tests point it at a small file to keep synth fast.
   * @default lambdas/feature-transform/handler.ts
   */
  readonly featureTransformEntry?: string;
}

const ATTRIBUTE_TYPE: Record<KeyAttribute['type'], dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

export class FeatureStoreStack extends Stack {
  /** The online store. */
  readonly table: dynamodb.Table;
  /** The customer-managed key that encrypts the online store. */
  readonly tableKey: kms.Key;
  /** Dead letters of the pipeline: failed batches (from the event source) and malformed records (from the handler). */
  readonly deadLetterQueue: EncryptedQueue;
  readonly featureTransform: FeatureTransform;

  constructor(scope: Construct, id: string, props: FeatureStoreStackProps) {
    super(scope, id, props);
    const config = props.config ?? DEFAULT_CONFIG;
    const resources = platformResources(config.prefix);
    const store = resources.onlineStore;
    const ft = config.featureTransform;

    this.tableKey = new kms.Key(this, 'OnlineStoreKey', {
      alias: `alias/${store.name}`,
      description: `Encrypts the ${store.name} DynamoDB table`,
      enableKeyRotation: true,
    });

    this.table = new dynamodb.Table(this, 'OnlineStore', {
      tableName: store.name,
      partitionKey: { name: store.partitionKey.name, type: ATTRIBUTE_TYPE[store.partitionKey.type] },
      sortKey: store.sortKey && { name: store.sortKey.name, type: ATTRIBUTE_TYPE[store.sortKey.type] },
      timeToLiveAttribute: store.ttlAttribute,
      // Traffic follows the event stream, which is bursty: no capacity to plan.
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.onlineStore.deletionProtection,
      removalPolicy: config.onlineStore.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    this.deadLetterQueue = new EncryptedQueue(this, 'FeatureTransformDlq', {
      queueName: resources.featureTransformDlq.name,
    });

    this.featureTransform = new FeatureTransform(this, 'FeatureTransform', {
      stream: props.eventsStream,
      table: this.table,
      deadLetterQueue: this.deadLetterQueue,
      entry: props.featureTransformEntry,
      memorySize: ft.memoryMb,
      timeout: Duration.seconds(ft.timeoutSeconds),
      batchSize: ft.batchSize,
      maxBatchingWindow: Duration.seconds(ft.maxBatchingWindowSeconds),
      parallelizationFactor: ft.parallelizationFactor,
      retryAttempts: ft.maximumRetryAttempts,
      // -1 (no limit) is the event source's own default: leave the property out.
      maxRecordAge: ft.maximumRecordAgeSeconds === -1 ? undefined : Duration.seconds(ft.maximumRecordAgeSeconds),
      bisectBatchOnError: ft.bisectOnError,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      allowedLateness: Duration.seconds(config.features.allowedLatenessSeconds),
      stateTtl: Duration.days(config.features.stateTtlDays),
      logRetention: ft.logRetentionDays,
      logLevel: ft.logLevel,
      tracing: ft.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
    });
  }

  /** Lets `grantee` read entity items (GetItem, BatchGetItem) and decrypt them: what serving needs. */
  grantReadFeatures(grantee: iam.IGrantable): iam.Grant {
    return this.table
      .grant(grantee, 'dynamodb:GetItem', 'dynamodb:BatchGetItem')
      .combine(grantKeyViaService(this.tableKey, grantee, 'dynamodb', 'kms:Decrypt'));
  }
}
