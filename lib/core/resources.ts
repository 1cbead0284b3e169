// One definition of the platform's named resources. The CDK stacks and the local platform both
// read it, so a table key or stream name can never differ between AWS and a laptop.

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N' | 'B';
}

export interface TableDefinition {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Attribute holding an epoch-seconds expiry, enabled as DynamoDB TTL. */
  readonly ttlAttribute?: string;
}

export interface StreamDefinition {
  readonly name: string;
  /** Event field used as the Kinesis partition key: all events of one entity land on one shard, in order. */
  readonly partitionKeyField: string;
  /** Shard count used where a fixed count is needed (the local stand-in); AWS uses on-demand capacity. */
  readonly localShards: number;
}

export interface QueueDefinition {
  readonly name: string;
}

export interface PlatformResources {
  readonly eventsStream: StreamDefinition;
  readonly onlineStore: TableDefinition;
  readonly featureTransformDlq: QueueDefinition;
  /** Model versions and their states (pk `model#<name>`, sk `version#<version>` and pointer items). */
  readonly modelRegistry: TableDefinition;
  /** Model packages (`models/<name>/<version>/model.onnx` and `manifest.json`), versioned. */
  readonly modelBucket: BucketDefinition;
  /** The Iceberg lakehouse: its bucket, Glue database and one Firehose delivery stream per table. */
  readonly offlineStore: OfflineStoreDefinition;
}

/** The offline (Iceberg) tables; their schemas live in lib/core/offline/tables.ts. */
export type OfflineTableName = 'events' | 'feature_log' | 'predictions' | 'labels';
export const OFFLINE_TABLE_NAMES: readonly OfflineTableName[] = ['events', 'feature_log', 'predictions', 'labels'];

export interface DeliveryStreamDefinition {
  /** Firehose stream name (letters, digits, `_`, `.`, `-`; at most 64). */
  readonly name: string;
  /** The one table every record of the stream goes to. */
  readonly table: OfflineTableName;
}

export interface OfflineStoreDefinition {
  /** Data files, Iceberg metadata and Firehose error output. */
  readonly bucket: BucketDefinition;
  /** Glue database (Glue folds names to lowercase; Athena wants no hyphens). */
  readonly database: string;
  /** Key prefix of the table locations: `<warehousePrefix><database>/<table>/`. */
  readonly warehousePrefix: string;
  /** Key prefix of records Firehose could not deliver: `<errorPrefix><stream>/…`, locally `<dataDir>/firehose-errors/<stream>/<date>/`. */
  readonly errorPrefix: string;
  readonly deliveryStreams: Readonly<Record<OfflineTableName, DeliveryStreamDefinition>>;
}

export interface BucketDefinition {
  /** Bucket name locally; on AWS CDK generates a unique name and hands it over in the environment. */
  readonly name: string;
}

export function platformResources(prefix = 'fathom'): PlatformResources {
  return {
    eventsStream: { name: `${prefix}-events`, partitionKeyField: 'entity_id', localShards: 2 },
    onlineStore: {
      name: `${prefix}-online-store`,
      partitionKey: { name: 'pk', type: 'S' },
      ttlAttribute: 'expires_at',
    },
    featureTransformDlq: { name: `${prefix}-feature-transform-dlq` },
    modelRegistry: {
      name: `${prefix}-model-registry`,
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
    },
    modelBucket: { name: `${prefix}-models` },
    offlineStore: {
      bucket: { name: `${prefix}-lakehouse` },
      database: `${prefix.replace(/-/g, '_')}_offline`,
      warehousePrefix: 'warehouse/',
      errorPrefix: 'firehose-errors/',
      deliveryStreams: {
        events: { name: `${prefix}-offline-events`, table: 'events' },
        feature_log: { name: `${prefix}-offline-feature_log`, table: 'feature_log' },
        predictions: { name: `${prefix}-offline-predictions`, table: 'predictions' },
        labels: { name: `${prefix}-offline-labels`, table: 'labels' },
      },
    },
  };
}

/** Environment variable names through which infra hands resource names to handlers. */
export const ENV = {
  onlineStoreTable: 'FATHOM_ONLINE_STORE_TABLE',
  eventsStream: 'FATHOM_EVENTS_STREAM',
  dlqUrl: 'FATHOM_DLQ_URL',
  allowedLatenessSeconds: 'FATHOM_ALLOWED_LATENESS_SECONDS',
  stateTtlDays: 'FATHOM_STATE_TTL_DAYS',
  modelRegistryTable: 'FATHOM_MODEL_REGISTRY_TABLE',
  modelBucket: 'FATHOM_MODEL_BUCKET',
  /** `kms:<key arn>` or `local:<path to a public key PEM>`: the key that model signatures must verify with. */
  modelSigningKey: 'FATHOM_MODEL_SIGNING_KEY',
  /** Model name the scoring function serves when a request names none. */
  defaultModelName: 'FATHOM_DEFAULT_MODEL_NAME',
  /** Seconds between the scoring function's background checks of the production pointer. */
  modelRefreshSeconds: 'FATHOM_MODEL_REFRESH_SECONDS',
  /** Firehose delivery streams of the offline tables, one variable per table (OFFLINE_STREAM_ENV). */
  eventsDeliveryStream: 'FATHOM_EVENTS_DELIVERY_STREAM',
  featureLogDeliveryStream: 'FATHOM_FEATURE_LOG_DELIVERY_STREAM',
  predictionsDeliveryStream: 'FATHOM_PREDICTIONS_DELIVERY_STREAM',
  labelsDeliveryStream: 'FATHOM_LABELS_DELIVERY_STREAM',
  /** The lakehouse bucket and its Glue database, for readers of the offline tables. */
  offlineBucket: 'FATHOM_OFFLINE_BUCKET',
  offlineDatabase: 'FATHOM_OFFLINE_DATABASE',
  /** OIDC mode of the API edge: the issuer (`iss`) and audience (`aud`) a bearer token must carry, and where its keys are. */
  oidcIssuer: 'FATHOM_OIDC_ISSUER',
  oidcAudience: 'FATHOM_OIDC_AUDIENCE',
  oidcJwksUrl: 'FATHOM_OIDC_JWKS_URL',
} as const;

/** The variable that names each offline table's delivery stream. */
export const OFFLINE_STREAM_ENV: Readonly<Record<OfflineTableName, string>> = {
  events: ENV.eventsDeliveryStream,
  feature_log: ENV.featureLogDeliveryStream,
  predictions: ENV.predictionsDeliveryStream,
  labels: ENV.labelsDeliveryStream,
};

/**
 * Firehose buffering (how long and how much a delivery stream gathers before one Iceberg commit)
 * and the retention of table snapshots: the defaults of the CDK config (lib/infra/config.ts).
 * Locally the Firehose endpoint buffers far less (LOCAL_FIREHOSE_BUFFERING), so rows show up in
 * seconds.
 */
export const OFFLINE_STORE_DEFAULTS = {
  /** Firehose's own default: one commit per stream at least every 5 minutes. */
  bufferingIntervalSeconds: 300,
  /** The Iceberg destination's largest buffer: bigger Parquet files, fewer commits. */
  bufferingSizeMiB: 128,
  /** Firehose's default for the Iceberg destination before records go to the error output. */
  retryDurationSeconds: 300,
  /** Snapshots stay readable this long, so a training set's manifest can be re-read by snapshot id. */
  snapshotRetentionDays: 30,
  snapshotsToRetain: 10,
  /** Files no snapshot references are deleted after this long (Glue's default). */
  orphanFileRetentionDays: 3,
} as const;

/** The local Firehose endpoint's buffering: small, so `npm start` fills the tables within seconds. */
export const LOCAL_FIREHOSE_BUFFERING = {
  intervalMs: 2_000,
  sizeBytes: 1024 * 1024,
} as const;

/**
 * The feature-transform function and its event source mapping, as deployed: the defaults of the
 * CDK config (lib/infra/config.ts) and the settings of the local poller (lib/local/platform.ts).
 */
export const FEATURE_TRANSFORM_DEFAULTS = {
  batchSize: 500,
  maxBatchingWindowSeconds: 1,
  maximumRetryAttempts: 5,
  bisectOnError: true,
  timeoutSeconds: 60,
  allowedLatenessSeconds: 300,
  stateTtlDays: 45,
} as const;

/**
 * The scoring function as deployed: the defaults of the CDK config (lib/infra/config.ts) and of
 * the handler's environment (lib/adapters/scoring-env.ts).
 */
export const SCORING_DEFAULTS = {
  /** The model a request that names none is scored with. */
  defaultModelName: 'card-fraud',
  /** A promoted version is serving within this long (plus its load time) on every warm instance. */
  modelRefreshSeconds: 30,
  /** Memory, and so CPU: at 1,769 MB Lambda gives one full vCPU, which the engine and onnxruntime share. */
  memoryMb: 1769,
  timeoutSeconds: 10,
} as const;

/**
 * Usage-plan tiers of the API edge: requests per second (steady), burst, and requests per day.
 * The CDK usage plans and the local API's token buckets both read these (through the `api.tiers`
 * config, whose defaults they are).
 */
export const API_TIER_DEFAULTS = {
  standard: { rateLimit: 50, burstLimit: 100, quotaPerDay: 1_000_000 },
  premium: { rateLimit: 500, burstLimit: 1000, quotaPerDay: 20_000_000 },
} as const;
