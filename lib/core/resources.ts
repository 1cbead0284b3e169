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
