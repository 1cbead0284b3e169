// The stacks of the platform and how they depend on each other. bin/app.ts and the infra tests
// both build the app through here, so the tests check what `cdk synth` deploys.
import type { Environment } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { FathomConfig } from './config';
import type { ApiHandlerName } from './stacks/api-stack';
import { ApiStack } from './stacks/api-stack';
import { FeatureStoreStack } from './stacks/feature-store-stack';
import { IngestionStack } from './stacks/ingestion-stack';
import { MonitoringStack } from './stacks/monitoring-stack';
import { OfflineStoreStack } from './stacks/offline-store-stack';
import { RegistryStack } from './stacks/registry-stack';
import { ServingStack } from './stacks/serving-stack';
import { ENV } from '../core/resources';

export interface FathomStacks {
  readonly ingestion: IngestionStack;
  readonly featureStore: FeatureStoreStack;
  readonly monitoring: MonitoringStack;
  readonly registry: RegistryStack;
  readonly serving: ServingStack;
  readonly offlineStore: OfflineStoreStack;
  readonly api: ApiStack;
}

export interface FathomStacksOptions {
  /**
   * The feature-transform handler's entry file.
   * @default lambdas/feature-transform/handler.ts
   */
  readonly featureTransformEntry?: string;
  /**
   * The scoring handler's entry file.
   * @default lambdas/scoring/handler.ts
   */
  readonly scoringEntry?: string;
  /**
   * Entry files of the API stack's handlers (labels, features, models, authorizer).
   * @default lambdas/<name>/handler.ts
   */
  readonly apiEntries?: Partial<Record<ApiHandlerName, string>>;
}

export function addFathomStacks(scope: Construct, config: FathomConfig, options: FathomStacksOptions = {}): FathomStacks {
  // Without an account and region the stacks are environment-agnostic: synth needs no
  // credentials, and `cdk deploy` resolves the environment from the caller's profile.
  const env: Environment = { account: config.env.account, region: config.env.region };
  const stackName = (area: string) => `${config.prefix}-${area}`;

  const ingestion = new IngestionStack(scope, 'Ingestion', {
    env,
    stackName: stackName('ingestion'),
    description: 'Fathom ingestion: the events Kinesis stream',
    prefix: config.prefix,
    retentionPeriod: Duration.hours(config.stream.retentionHours),
  });

  const featureStore = new FeatureStoreStack(scope, 'FeatureStore', {
    env,
    stackName: stackName('feature-store'),
    description: 'Fathom feature store: DynamoDB online store and the streaming feature-transform Lambda',
    config,
    eventsStream: ingestion.stream,
    featureTransformEntry: options.featureTransformEntry,
  });

  const registry = new RegistryStack(scope, 'ModelRegistry', {
    env,
    stackName: stackName('model-registry'),
    description: 'Fathom model registry: signed model packages (S3), versions and states (DynamoDB), the KMS signing key',
    config,
  });

  const serving = new ServingStack(scope, 'Serving', {
    env,
    stackName: stackName('serving'),
    description: 'Fathom serving: the real-time scoring Lambda (online features, production model, onnxruntime layer)',
    config,
    features: featureStore,
    registry,
    scoringEntry: options.scoringEntry,
  });

  const monitoring = new MonitoringStack(scope, 'Monitoring', {
    env,
    stackName: stackName('monitoring'),
    description: 'Fathom monitoring: the on-call alarm topic and the alarms of the streaming feature pipeline and of scoring',
    config,
    featureTransform: featureStore.featureTransform,
    scoring: serving.scoring,
  });

  const offlineStore = new OfflineStoreStack(scope, 'OfflineStore', {
    env,
    stackName: stackName('offline-store'),
    description: 'Fathom offline store: Iceberg tables in the Glue catalog on S3, written by one Firehose delivery stream each',
    config,
  });

  // The stream logs raw events and its f(S, e) vectors to the offline tables (lib/adapters/offline-log.ts).
  const featureTransform = featureStore.featureTransform.lambdaFunction;
  offlineStore.grantPutRecords('events', featureTransform);
  offlineStore.grantPutRecords('feature_log', featureTransform);
  for (const [name, value] of Object.entries(offlineStore.deliveryStreamEnvironment('events', 'feature_log'))) featureTransform.addEnvironment(name, value);
  // Scoring logs every answer, with the features it was computed from, to `predictions`.
  const scoring = serving.scoring.lambdaFunction;
  offlineStore.grantPutRecords('predictions', scoring);
  scoring.addEnvironment(ENV.predictionsDeliveryStream, offlineStore.deliveryStreams.predictions.deliveryStreamName);

  const api = new ApiStack(scope, 'Api', {
    env,
    stackName: stackName('api'),
    description: 'Fathom API edge: REST API (WAF, Cognito or OIDC tokens, usage plans) in front of scoring, events, labels, features and models',
    config,
    scoring: serving.scoring.alias,
    events: ingestion,
    features: featureStore,
    registry,
    labels: offlineStore,
    entries: options.apiEntries,
  });

  return { ingestion, featureStore, monitoring, registry, serving, offlineStore, api };
}
