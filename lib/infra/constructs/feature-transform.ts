// The streaming half of the feature pipeline: a Lambda that reads the `events` stream in batches,
// folds each event into its entity's state in the online store, and sends what it cannot use to a
// dead-letter queue. The event source mapping retries, bisects and reports partial failures, so
// one bad record neither blocks its shard nor gets its good neighbours processed twice.
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../../core/resources';
import { handlerEntry, LOCK_FILE, REPO_ROOT } from '../entries';
import { EncryptedQueue } from './encrypted-queue';
import { grantKeyViaService } from './key-grants';

export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface FeatureTransformProps {
  /** The stream of events to read. */
  readonly stream: kinesis.IStream;
  /** The online store the function reads and writes (one item per entity). */
  readonly table: dynamodb.ITable;
  /**
   * Where the event source mapping sends batches that exhausted their retries, and where the
   * handler sends records it could not parse.
   * @default - a new EncryptedQueue with a generated name
   */
  readonly deadLetterQueue?: EncryptedQueue;
  /**
   * The handler's entry file.
   * @default lambdas/feature-transform/handler.ts
   */
  readonly entry?: string;
  /**
   * Lambda runtime.
   * @default lambda.Runtime.NODEJS_22_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Lambda memory in MB; CPU scales with it.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Lambda timeout for one batch.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Records per invocation.
   * @default 500
   */
  readonly batchSize?: number;
  /**
   * How long the event source may wait to fill a batch.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Concurrent batches per shard.
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * Retries of a failing batch before it goes to the dead-letter queue; -1 retries until the records expire.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Oldest record handed to the function; older records go to the dead-letter queue.
   * @default - no limit: a record is retried (up to `retryAttempts`) until it expires from the stream
   */
  readonly maxRecordAge?: Duration;
  /**
   * Split a failing batch in two and retry the halves.
   * @default true
   */
  readonly bisectBatchOnError?: boolean;
  /**
   * Where a new mapping starts reading.
   * @default lambda.StartingPosition.TRIM_HORIZON: no event already on the stream is skipped
   */
  readonly startingPosition?: lambda.StartingPosition;
  /**
   * How late an event may arrive (behind its entity's latest event) and still be applied.
   * @default Duration.seconds(300)
   */
  readonly allowedLateness?: Duration;
  /**
   * How long an entity's state lives after its last event (the item's TTL).
   * @default Duration.days(45)
   */
  readonly stateTtl?: Duration;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
  /**
   * X-Ray tracing of the function.
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
  /**
   * Powertools service name (logger and metrics dimension). The handler's Metrics instance also
   * names it in code, which wins over the environment: change both or neither, or the alarms on
   * its metrics watch a metric nobody publishes.
   * @default 'feature-transform'
   */
  readonly serviceName?: string;
  /**
   * CloudWatch namespace of the handler's EMF metrics. Named in the handler's code too (see
   * `serviceName`).
   * @default 'Fathom'
   */
  readonly metricsNamespace?: string;
}

export class FeatureTransform extends Construct {
  readonly lambdaFunction: nodejs.NodejsFunction;
  /** The function's execution role: no managed policies, only the grants made here. */
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly deadLetterQueue: EncryptedQueue;
  /** The event source; its `eventSourceMappingId` names the mapping. */
  readonly eventSource: KinesisEventSource;
  /** CloudWatch namespace of the handler's EMF metrics (POWERTOOLS_METRICS_NAMESPACE). */
  readonly metricsNamespace: string;
  /** Powertools service name: the value of the `service` dimension on the handler's EMF metrics. */
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: FeatureTransformProps) {
    super(scope, id);
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_22_X;
    const tracing = props.tracing ?? lambda.Tracing.ACTIVE;
    this.metricsNamespace = props.metricsNamespace ?? 'Fathom';
    this.serviceName = props.serviceName ?? 'feature-transform';

    this.deadLetterQueue = props.deadLetterQueue ?? new EncryptedQueue(this, 'DeadLetterQueue');

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // An explicit role instead of the default one: the default attaches the AWS managed
    // AWSLambdaBasicExecutionRole, which may write to any log group in the account.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'feature-transform: reads the events stream, writes the online store, sends dead letters',
    });
    this.logGroup.grantWrite(this.role);

    this.lambdaFunction = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? handlerEntry('feature-transform'),
      handler: 'handler',
      runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(60),
      role: this.role,
      logGroup: this.logGroup,
      tracing,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment: {
        [ENV.onlineStoreTable]: props.table.tableName,
        // The handler sends malformed records here, with their reason.
        [ENV.dlqUrl]: this.deadLetterQueue.queueUrl,
        [ENV.allowedLatenessSeconds]: String((props.allowedLateness ?? Duration.seconds(300)).toSeconds()),
        [ENV.stateTtlDays]: String((props.stateTtl ?? Duration.days(45)).toDays()),
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        // The bundle is minified; stack traces in the logs should still name source lines.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // ESM because @middy/core 6 ships only ESM. A CommonJS dependency that calls `require`
        // needs a `require` in an ES module: the banner provides one. esbuild's target follows
        // the runtime (node22 for nodejs22.x).
        format: nodejs.OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        // Names and lines, not the sources themselves: keeps the asset small.
        sourcesContent: false,
        // The runtime provides AWS SDK v3; bundling it would only add cold-start time.
        externalModules: ['@aws-sdk/*'],
        // Bundle with the local esbuild: synth must work without Docker.
        forceDockerBundling: false,
      },
    });

    // Exactly the item operations the handler performs, on this table only. Its writes are
    // BatchExecuteStatement calls of PartiQL INSERT and UPDATE statements, which IAM authorizes
    // per statement as PartiQLInsert and PartiQLUpdate (there is no BatchExecuteStatement action).
    props.table.grant(this.role, 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate');
    if (props.table.encryptionKey) {
      grantKeyViaService(props.table.encryptionKey, this.role, 'dynamodb', 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    }

    this.eventSource = new KinesisEventSource(props.stream, {
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize ?? 500,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      parallelizationFactor: props.parallelizationFactor ?? 1,
      retryAttempts: props.retryAttempts ?? 5,
      maxRecordAge: props.maxRecordAge,
      bisectBatchOnError: props.bisectBatchOnError ?? true,
      // The handler answers with the records that failed; only those are retried.
      reportBatchItemFailures: true,
      // Also grants the send (see EncryptedQueue.asEventSourceDlq).
      onFailure: this.deadLetterQueue.asEventSourceDlq(),
    });
    // Grants the role read on the stream and decrypt on its key.
    this.lambdaFunction.addEventSource(this.eventSource);
    // The handler itself sends malformed records to the same queue.
    this.deadLetterQueue.grantSendMessages(this.role);

    this.acknowledgeNagFindings(runtime, tracing);
  }

  /** Age in milliseconds of the last record of each batch when the function got it: the stream lag to alarm on. */
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lambdaFunction.metric('IteratorAge', { statistic: 'Maximum', ...props });
  }

  /**
   * Records the handler reported as failed (`batchItemFailures`), which the event source retries:
   * the handler's own EMF metric `FailedRecords`, which Powertools Metrics publishes under the
   * namespace with one dimension, `service` = the service name.
   */
  metricFailedRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: 'FailedRecords',
      dimensionsMap: { service: this.serviceName },
      statistic: 'Sum',
      ...props,
    });
  }

  private acknowledgeNagFindings(runtime: lambda.Runtime, tracing: lambda.Tracing): void {
    Validations.of(this.deadLetterQueue.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter destination of the feature-transform event source mapping and handler; nothing consumes it automatically, so a further dead-letter queue would never receive anything.',
    });
    if (runtime.name !== lambda.Runtime.NODEJS_LATEST.name) {
      Validations.of(this.lambdaFunction).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `${runtime.name} is the runtime the project pins and tests against (DESIGN.md); moving to a newer Node.js is a deliberate change, not one made because CDK learned a new runtime.`,
      });
    }
    if (tracing !== lambda.Tracing.DISABLED) {
      // Lambda adds xray:PutTraceSegments and xray:PutTelemetryRecords on '*' for tracing; X-Ray
      // has no resource-level permissions. Acknowledged on the role's policy only, and the infra
      // tests check that the X-Ray statement is the only one with a '*' resource.
      const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
      if (defaultPolicy) {
        Validations.of(defaultPolicy).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
        });
      }
    }
  }
}
