// The real-time scoring Lambda: API Gateway request → online-store read → feature engine → model
// → answer. onnxruntime-node comes from a layer that holds only the function's architecture; the
// handler itself is bundled by esbuild with onnxruntime left external. The function serves through
// its `live` alias, where provisioned concurrency (when configured) keeps models loaded.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
// The exact form cdk-nag gives a resource in a finding id, so an acknowledgment names one resource.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { Construct } from 'constructs';
import { PACKAGE_PREFIX } from '../../core/registry/keys';
import { ENV, FEATURE_TRANSFORM_DEFAULTS, SCORING_DEFAULTS } from '../../core/resources';
import { handlerEntry, LOCK_FILE, REPO_ROOT } from '../entries';
import type { PowertoolsLogLevel } from './feature-transform';
import { ONNXRUNTIME_PACKAGES, OnnxRuntimeLayer } from './onnxruntime-layer';

/** What the function needs of the online store: its table and a read grant (FeatureStoreStack fits). */
export interface OnlineFeatureSource {
  readonly table: dynamodb.ITable;
  /** GetItem and BatchGetItem on the table, and decrypt through DynamoDB. */
  grantReadFeatures(grantee: iam.IGrantable): iam.Grant;
}

/** What the function needs of the model registry: where it is, and a read grant (the registry stack fits). */
export interface ModelRegistrySource {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  /** The asymmetric key whose public half verifies model signatures. */
  readonly signingKey: kms.IKey;
  /** Reading version items, the production pointer and packages, and the signing key's public half. */
  grantRead(grantee: iam.IGrantable): iam.Grant;
}

export interface ScoringFunctionProps {
  readonly features: OnlineFeatureSource;
  readonly registry: ModelRegistrySource;
  /**
   * The handler's entry file.
   * @default lambdas/scoring/handler.ts
   */
  readonly entry?: string;
  /**
   * The onnxruntime layer; give one to share it between functions.
   * @default - a new OnnxRuntimeLayer for arm64
   */
  readonly onnxRuntimeLayer?: OnnxRuntimeLayer;
  /**
   * Lambda runtime.
   * @default lambda.Runtime.NODEJS_22_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Memory in MB; CPU scales with it.
   * @default 1769 (one full vCPU)
   */
  readonly memorySize?: number;
  /**
   * Timeout of one request, the first one's cold model load included.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Concurrency reserved for the function (and its ceiling).
   * @default - none: the function shares the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * Execution environments kept initialised on the `live` alias.
   * @default 0
   */
  readonly provisionedConcurrency?: number;
  /**
   * Model served when a request names none.
   * @default 'card-fraud'
   */
  readonly defaultModelName?: string;
  /**
   * Least time between checks of the production pointer.
   * @default Duration.seconds(30)
   */
  readonly modelRefreshInterval?: Duration;
  /**
   * The stream's allowed lateness: f(S, e) depends on it, so it must match the feature pipeline's.
   * @default Duration.seconds(300)
   */
  readonly allowedLateness?: Duration;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
  /**
   * X-Ray tracing of the function.
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;
  /**
   * Powertools service name; the handler names it in code too (see FeatureTransformProps.serviceName).
   * @default 'scoring'
   */
  readonly serviceName?: string;
  /**
   * CloudWatch namespace of the handler's EMF metrics.
   * @default 'Fathom'
   */
  readonly metricsNamespace?: string;
}

export class ScoringFunction extends Construct {
  readonly lambdaFunction: nodejs.NodejsFunction;
  /** What API Gateway should invoke: the published version with provisioned concurrency, if any. */
  readonly alias: lambda.Alias;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly onnxRuntimeLayer: OnnxRuntimeLayer;
  readonly metricsNamespace: string;
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: ScoringFunctionProps) {
    super(scope, id);
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_22_X;
    const tracing = props.tracing ?? lambda.Tracing.ACTIVE;
    const architecture = lambda.Architecture.ARM_64;
    this.metricsNamespace = props.metricsNamespace ?? 'Fathom';
    this.serviceName = props.serviceName ?? 'scoring';
    this.onnxRuntimeLayer = props.onnxRuntimeLayer ?? new OnnxRuntimeLayer(this, 'OnnxRuntime', { architecture, compatibleRuntimes: [runtime] });
    if (this.onnxRuntimeLayer.architecture.name !== architecture.name) {
      throw new Error(`ScoringFunction runs on ${architecture.name}; the onnxruntime layer holds the ${this.onnxRuntimeLayer.architecture.name} build`);
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    // An explicit role: the default one attaches AWSLambdaBasicExecutionRole (any log group).
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'scoring: reads entity features and verified model packages, logs predictions',
    });
    this.logGroup.grantWrite(this.role);

    this.lambdaFunction = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? handlerEntry('scoring'),
      handler: 'handler',
      runtime,
      architecture,
      memorySize: props.memorySize ?? SCORING_DEFAULTS.memoryMb,
      timeout: props.timeout ?? Duration.seconds(SCORING_DEFAULTS.timeoutSeconds),
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      tracing,
      layers: [this.onnxRuntimeLayer.layer],
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment: {
        [ENV.onlineStoreTable]: props.features.table.tableName,
        [ENV.modelRegistryTable]: props.registry.table.tableName,
        [ENV.modelBucket]: props.registry.bucket.bucketName,
        [ENV.modelSigningKey]: `kms:${props.registry.signingKey.keyArn}`,
        [ENV.defaultModelName]: props.defaultModelName ?? SCORING_DEFAULTS.defaultModelName,
        [ENV.modelRefreshSeconds]: String((props.modelRefreshInterval ?? Duration.seconds(SCORING_DEFAULTS.modelRefreshSeconds)).toSeconds()),
        [ENV.allowedLatenessSeconds]: String((props.allowedLateness ?? Duration.seconds(FEATURE_TRANSFORM_DEFAULTS.allowedLatenessSeconds)).toSeconds()),
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // ESM for @middy/core 6, with a `require` for CommonJS dependencies (see FeatureTransform).
        format: nodejs.OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The runtime provides AWS SDK v3; onnxruntime comes from the layer (its native build
        // cannot be bundled, and the npm package is too large to ship whole). Lambda resolves
        // ES module imports through NODE_PATH, which includes the layer's nodejs/node_modules.
        externalModules: ['@aws-sdk/*', ...ONNXRUNTIME_PACKAGES],
        forceDockerBundling: false,
      },
    });

    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: this.lambdaFunction.currentVersion,
      provisionedConcurrentExecutions: props.provisionedConcurrency ? props.provisionedConcurrency : undefined,
    });

    props.features.grantReadFeatures(this.role);
    props.registry.grantRead(this.role);

    this.acknowledgeNagFindings(runtime, tracing);
  }

  /** Invocation duration (the handler's whole path, cold loads included) at percentile `statistic`. */
  metricDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metric('Duration', { statistic: 'p99', ...props });
  }

  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricErrors({ statistic: 'Sum', ...props });
  }

  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricInvocations({ statistic: 'Sum', ...props });
  }

  metricThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.alias.metricThrottles({ statistic: 'Sum', ...props });
  }

  /**
   * The handler's own EMF metrics, published with one dimension, `service`: e.g. `ScoreLatency`
   * (ms, the scoring path without Lambda's overhead), `ServerErrors`, `ModelLoadFailures` (a
   * promoted version that failed verification or loading and is not served), `ModelSwaps`,
   * `PredictionsNotLogged` (answers whose `predictions` row Firehose refused; each is in the log).
   */
  metricHandler(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: this.metricsNamespace, metricName, dimensionsMap: { service: this.serviceName }, statistic: 'Sum', ...props });
  }

  private acknowledgeNagFindings(runtime: lambda.Runtime, tracing: lambda.Tracing): void {
    this.acknowledgePackageObjects();
    if (runtime.name !== lambda.Runtime.NODEJS_LATEST.name) {
      Validations.of(this.lambdaFunction).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `${runtime.name} is the runtime the project pins and tests against (DESIGN.md), and the onnxruntime layer is built for it; moving to a newer Node.js is a deliberate change.`,
      });
    }
    const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (tracing !== lambda.Tracing.DISABLED && defaultPolicy) {
      Validations.of(defaultPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      });
    }
  }

  /**
   * The registry's read grant covers `<bucket>/models/*`: package keys name versions promoted after
   * deployment, so no narrower resource exists. The finding names the bucket through a cross-stack
   * reference that takes its final form only once references are resolved at synthesis, so the
   * acknowledgment is made then (a node validation runs after that, before cdk-nag), for exactly
   * the S3 object resources under the package prefix and nothing else.
   */
  private acknowledgePackageObjects(): void {
    const policy = this.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    if (!policy) return;
    policy.node.addValidation({
      validate: () => {
        const document = Stack.of(policy).resolve(policy.document.toJSON()) as { Statement?: { Action: string | string[]; Resource: unknown }[] };
        for (const statement of document.Statement ?? []) {
          const actions = ([] as string[]).concat(statement.Action);
          if (!actions.every((a) => a === 's3:GetObject' || a === 's3:GetObjectVersion')) continue;
          for (const resource of ([] as unknown[]).concat(statement.Resource)) {
            const flat = flattenCfnReference(resource);
            if (!flat.endsWith(`/${PACKAGE_PREFIX}*`)) continue;
            Validations.of(policy).acknowledge({
              id: `AwsSolutions-IAM5[Resource::${flat}]`,
              reason: `Model packages live under ${PACKAGE_PREFIX}<name>/<version>/ and versions are promoted after deployment: read access covers that prefix of the registry bucket (GetObject, GetObjectVersion) and nothing else.`,
            });
          }
        }
        return [];
      },
    });
  }
}
