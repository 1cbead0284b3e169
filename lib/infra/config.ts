// The deployment settings of the CDK app: the `fathom` key of cdk.json's context, validated here
// with every default stated once. cdk.json repeats the defaults so an operator sees what can be
// changed; a key left out of cdk.json falls back to the default below. Unknown keys are rejected
// (a typo such as `batchsize` must not silently fall back to a default).
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import { ConfigError } from '../core/errors';
import { ROUTES, SCOPES } from '../core/api/routes';
import { API_TIER_DEFAULTS, FEATURE_TRANSFORM_DEFAULTS, OFFLINE_STORE_DEFAULTS, SCORING_DEFAULTS } from '../core/resources';

/** The context key under which cdk.json holds this configuration. */
export const CONFIG_CONTEXT_KEY = 'fathom';

// CloudWatch Logs accepts only these retention periods; the CDK enum is their source of truth.
// INFINITE is left out on purpose: logs of a record-processing function must expire.
const LOG_RETENTION_DAYS: readonly number[] = Object.values(RetentionDays).filter(
  (v): v is number => typeof v === 'number' && v !== RetentionDays.INFINITE,
);

const seconds = (min: number, max: number) => z.int().min(min).max(max);

const EnvSchema = z.strictObject({
  /** AWS account to deploy to. Unset: the stacks are environment-agnostic (synth needs no credentials). */
  account: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
    .optional(),
  /** AWS region to deploy to. Unset: environment-agnostic. */
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
    .optional(),
});

const StreamSchema = z.strictObject({
  /** Hours a record stays readable on the `events` stream (Kinesis allows 24 to 8760). @default 24 */
  retentionHours: z.int().min(24).max(8760).default(24),
});

const FeatureTransformSchema = z.strictObject({
  /** Records per Lambda invocation (Kinesis event source: 1 to 10000). @default 500 */
  batchSize: z.int().min(1).max(10_000).default(FEATURE_TRANSFORM_DEFAULTS.batchSize),
  /** Seconds the event source may wait to fill a batch (0 to 300). @default 1 */
  maxBatchingWindowSeconds: seconds(0, 300).default(FEATURE_TRANSFORM_DEFAULTS.maxBatchingWindowSeconds),
  /** Concurrent batches per shard. Pinned to 1: merchant and card items skip redelivered records by per-shard sequence number, which needs a shard's batches in order. @default 1 */
  // Must be 1: merchant items remember the highest sequence number absorbed per shard, which is
  // exact only while a shard's batches run one at a time and in order.
  parallelizationFactor: z.literal(1, { error: 'must be 1 (merchant items checkpoint per-shard sequence numbers; see lib/core/pipeline/feature-batch.ts)' }).default(1),
  /** Retries of a failing batch before its records go to the on-failure queue (-1 = until the record expires, up to 10000). @default 5 */
  maximumRetryAttempts: z.int().min(-1).max(10_000).default(FEATURE_TRANSFORM_DEFAULTS.maximumRetryAttempts),
  /** Oldest record the event source still hands to Lambda (-1 = no limit, else 60 to 604800). @default 86400 (the default stream retention) */
  maximumRecordAgeSeconds: z
    .int()
    .refine((v) => v === -1 || (v >= 60 && v <= 604_800), 'must be -1 or between 60 and 604800')
    .default(86_400),
  /** Split a failing batch in two and retry each half, so one poison record cannot hold back its neighbours. @default true */
  bisectOnError: z.boolean().default(FEATURE_TRANSFORM_DEFAULTS.bisectOnError),
  /** Lambda memory in MB (128 to 10240); CPU scales with it. @default 1024 */
  memoryMb: z.int().min(128).max(10_240).default(1024),
  /** Lambda timeout in seconds (1 to 900). @default 60 */
  timeoutSeconds: seconds(1, 900).default(FEATURE_TRANSFORM_DEFAULTS.timeoutSeconds),
  /** Days the function's CloudWatch log group keeps its logs (a CloudWatch Logs retention value). @default 30 */
  logRetentionDays: z
    .int()
    .refine((d) => LOG_RETENTION_DAYS.includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
    // Checked against the enum's own values just above.
    .transform((d) => d as RetentionDays)
    .default(RetentionDays.ONE_MONTH),
  /** Powertools log level. @default 'INFO' */
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Active X-Ray tracing of the function (needs the X-Ray write permissions, which take no resource). @default true */
  tracing: z.boolean().default(true),
});

const FeaturesSchema = z.strictObject({
  /** Seconds an event may arrive after a later event of its entity and still be applied to the state (0 to 3600, the handler's own limit). @default 300 */
  allowedLatenessSeconds: z.int().min(0).max(3600).default(FEATURE_TRANSFORM_DEFAULTS.allowedLatenessSeconds),
  /** Days an entity's state lives in the online store after its last event (DynamoDB TTL; 1 to 3650). @default 45 */
  stateTtlDays: z.int().min(1).max(3650).default(FEATURE_TRANSFORM_DEFAULTS.stateTtlDays),
});

const OnlineStoreSchema = z.strictObject({
  /** DynamoDB deletion protection: the table cannot be deleted until this is turned off. @default true */
  deletionProtection: z.boolean().default(true),
  /** What CloudFormation does with the table when it leaves the stack. @default 'retain' */
  removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
});

const ScoringSchema = z
  .strictObject({
    /** Model served when a score request names none (a registry model name). @default 'card-fraud' */
    defaultModelName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or -, starting with a letter')
      .default(SCORING_DEFAULTS.defaultModelName),
    /** Seconds between background checks of the production pointer: a promotion serves within this (plus its load). 1 to 3600. @default 30 */
    modelRefreshSeconds: seconds(1, 3600).default(SCORING_DEFAULTS.modelRefreshSeconds),
    /** Lambda memory in MB (128 to 10240). 1769 MB is one full vCPU, which the engine and onnxruntime share. @default 1769 */
    memoryMb: z.int().min(128).max(10_240).default(SCORING_DEFAULTS.memoryMb),
    /** Lambda timeout in seconds (1 to 900); the first request of an instance includes the model's cold load. @default 10 */
    timeoutSeconds: seconds(1, 900).default(SCORING_DEFAULTS.timeoutSeconds),
    /**
     * Concurrent executions reserved for the scoring function: a guaranteed share of the account's
     * concurrency, and a cap that protects the online store. @default - none reserved (shares the account pool)
     */
    reservedConcurrency: z.int().min(1).max(10_000).optional(),
    /**
     * Execution environments kept initialised (model loaded) on the `live` alias: no cold start for
     * that much concurrency, billed while idle. 0 turns it off. @default 0
     */
    provisionedConcurrency: z.int().min(0).max(10_000).default(0),
    /** Days the function's log group keeps its logs (a CloudWatch Logs retention value). @default 30 */
    logRetentionDays: z
      .int()
      .refine((d) => LOG_RETENTION_DAYS.includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .transform((d) => d as RetentionDays)
      .default(RetentionDays.ONE_MONTH),
    /** Powertools log level. @default 'INFO' */
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** Active X-Ray tracing of the function. @default true */
    tracing: z.boolean().default(true),
  })
  .refine((s) => s.reservedConcurrency === undefined || s.provisionedConcurrency <= s.reservedConcurrency, {
    message: 'must not exceed scoring.reservedConcurrency',
    path: ['provisionedConcurrency'],
  });

const RegistrySchema = z.strictObject({
  /** DynamoDB deletion protection of the model registry table. @default true */
  deletionProtection: z.boolean().default(true),
  /**
   * What CloudFormation does with the registry table, the package bucket (which must be empty to be
   * deleted), their keys and the access-log bucket when they leave the stack. The signing key is
   * always retained: without it no stored signature can be verified. @default 'retain'
   */
  removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
  /** Days the package bucket's server access logs are kept (1 to 3650). @default 365 */
  accessLogRetentionDays: z.int().min(1).max(3650).default(365),
});

const OfflineStoreSchema = z.strictObject({
  /**
   * Seconds a delivery stream gathers rows before it commits them to its Iceberg table (Firehose
   * buffering hint, 0 to 900): each commit is at least one Parquet file, so shorter means fresher
   * tables and more small files for compaction. @default 300
   */
  bufferingIntervalSeconds: seconds(0, 900).default(OFFLINE_STORE_DEFAULTS.bufferingIntervalSeconds),
  /** MiB a delivery stream gathers before it commits, whichever of the two comes first (1 to 128). @default 128 */
  bufferingSizeMiB: z.int().min(1).max(128).default(OFFLINE_STORE_DEFAULTS.bufferingSizeMiB),
  /** Seconds Firehose keeps retrying a failed delivery before the rows go to the error output prefix (0 to 7200). @default 300 */
  retryDurationSeconds: seconds(0, 7200).default(OFFLINE_STORE_DEFAULTS.retryDurationSeconds),
  /** Days the delivery streams' CloudWatch log groups keep their logs (a CloudWatch Logs retention value). @default 30 */
  logRetentionDays: z
    .int()
    .refine((d) => LOG_RETENTION_DAYS.includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .transform((d) => d as RetentionDays)
    .default(RetentionDays.ONE_MONTH),
  /** Glue table optimizers on every table: compaction (binpack), snapshot retention and orphan-file deletion. @default true */
  tableOptimizers: z.boolean().default(true),
  /**
   * Days a snapshot stays readable before the retention optimizer expires it (1 to 3650). A training
   * set's manifest names table snapshots: keep them at least as long as a model may need rebuilding. @default 30
   */
  snapshotRetentionDays: z.int().min(1).max(3650).default(OFFLINE_STORE_DEFAULTS.snapshotRetentionDays),
  /** Snapshots always kept, however old (1 to 1000). @default 10 */
  snapshotsToRetain: z.int().min(1).max(1000).default(OFFLINE_STORE_DEFAULTS.snapshotsToRetain),
  /** Days a file no snapshot references is kept before the orphan-file optimizer deletes it (1 to 3650). @default 3 */
  orphanFileRetentionDays: z.int().min(1).max(3650).default(OFFLINE_STORE_DEFAULTS.orphanFileRetentionDays),
  /**
   * Days an overwritten or deleted object version stays in the versioned lakehouse bucket (1 to
   * 3650): expired snapshots and compacted files leave such versions behind. @default 30
   */
  noncurrentVersionRetentionDays: z.int().min(1).max(3650).default(30),
  /** Days the lakehouse bucket's server access logs are kept (1 to 3650). @default 365 */
  accessLogRetentionDays: z.int().min(1).max(3650).default(365),
  /**
   * What CloudFormation does with the lakehouse bucket (which must be empty to be deleted), its key,
   * the Glue database and tables and the access-log bucket when they leave the stack. @default 'retain'
   */
  removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
});

const AlarmsSchema = z.strictObject({
  /** Address subscribed to the alarm topic (SNS sends it a confirmation link first). @default - no subscription */
  email: z.email('must be an e-mail address').optional(),
  /**
   * Stream lag that pages: the feature-transform function's IteratorAge (age of the newest record
   * of a batch when the function got it), in seconds, above this for 3 consecutive minutes
   * (10 to 604800; it must also stay below the stream retention and the event source's maximum
   * record age, where records are dropped). @default 300
   */
  iteratorAgeSeconds: z.int().min(10).max(604_800).default(300),
  /** Scoring latency that pages: the scoring function's p99 Duration above this, in ms, for 3 consecutive minutes (10 to 30000). @default 250 */
  scoringP99Ms: z.int().min(10).max(30_000).default(250),
  /** Scoring answers that may be 5xx: ServerErrors as a percentage of invocations, for 3 consecutive minutes (0.1 to 100). @default 1 */
  scoringErrorRatePercent: z.number().min(0.1).max(100).default(1),
});

/** A route's key in the `api.routeThrottles` setting: `<METHOD> <path>`, e.g. `POST /score`. */
export const routeKey = (route: { readonly method: string; readonly path: string }): string => `${route.method} ${route.path}`;

const ThrottleSchema = z.strictObject({
  /** Steady requests per second (API Gateway's token-bucket refill rate; the account's regional default is 10000). */
  rateLimit: z.number().positive().max(10_000),
  /** Requests that may arrive at once (the bucket's size; the account's regional default is 5000). */
  burstLimit: z.int().min(1).max(5000),
});

/**
 * Method-level throttles of the stage: every client together, per route. They keep one route's
 * traffic from starving another's and cap what reaches each backend. A batch route carries up to
 * 500 records a request, so its request rate is kept lower.
 */
const ROUTE_THROTTLE_DEFAULTS: Readonly<Record<string, { rateLimit: number; burstLimit: number }>> = {
  'POST /score': { rateLimit: 1000, burstLimit: 2000 },
  'POST /events': { rateLimit: 200, burstLimit: 400 },
  'POST /labels': { rateLimit: 50, burstLimit: 100 },
  'GET /features/{entity_id}': { rateLimit: 500, burstLimit: 1000 },
  'GET /models': { rateLimit: 20, burstLimit: 40 },
  'GET /models/{name}': { rateLimit: 20, burstLimit: 40 },
};

const RouteThrottlesSchema = z.strictObject(
  Object.fromEntries(
    ROUTES.map((route) => {
      const key = routeKey(route);
      const fallback = ROUTE_THROTTLE_DEFAULTS[key];
      if (!fallback) throw new Error(`config.ts: no default throttle for route ${key}`);
      return [key, ThrottleSchema.default(fallback)];
    }),
  ),
);

const UsageTierSchema = z.strictObject({
  /** Steady requests per second of one API key. */
  rateLimit: z.number().positive().max(10_000),
  /** Requests one API key may send at once. */
  burstLimit: z.int().min(1).max(5000),
  /** Requests per UTC day of one API key. */
  quotaPerDay: z.int().min(1),
});

const CLIENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

const ApiClientSchema = z.strictObject({
  /** The client's name: its API key is `<prefix>-<name>`, its Cognito app client too. */
  name: z.string().regex(CLIENT_NAME, 'must be 1-63 lowercase letters, digits or -, starting with a letter'),
  /** The usage-plan tier (a key of `api.tiers`) its API key belongs to. */
  tier: z.string().min(1),
  /** The scopes its Cognito app client may ask for (cognito mode). @default all four: score, ingest, label, read */
  scopes: z
    .array(z.enum(SCOPES))
    .min(1, 'must name at least one scope')
    .refine((s) => new Set(s).size === s.length, 'must not repeat a scope')
    .default([...SCOPES]),
});

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https URL' });

const ApiAuthSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    /** A Cognito user pool of machine clients (client-credentials grant), checked by API Gateway's Cognito authorizer. */
    mode: z.literal('cognito'),
    /**
     * Prefix of the pool's hosted domain `<prefix>.auth.<region>.amazoncognito.com`, which serves
     * the token endpoint; unique per region across all accounts. @default '<prefix>-<account id>'
     */
    domainPrefix: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be 1-63 lowercase letters, digits or -, not starting or ending with -')
      .refine((p) => !/aws|amazon|cognito/.test(p), 'must not contain aws, amazon or cognito')
      .optional(),
    /** Minutes an access token is valid (5 to 1440). @default 60 */
    accessTokenValidityMinutes: z.int().min(5).max(1440).default(60),
  }),
  z.strictObject({
    /** An existing OIDC issuer; a Lambda authorizer verifies its JWTs against its JWKS. */
    mode: z.literal('oidc'),
    /** The `iss` every token must carry. */
    issuer: httpsUrl,
    /** The `aud` every token must carry. */
    audience: z.string().min(1),
    /** Where the issuer publishes its signing keys. */
    jwksUrl: httpsUrl,
    /** Seconds API Gateway caches an authorizer's answer per token (0 to 3600; 0 = every request calls the authorizer). @default 300 */
    resultsCacheSeconds: seconds(0, 3600).default(300),
  }),
]);

const ApiFunctionsSchema = z.strictObject({
  /** Memory in MB of the labels, features, models and authorizer functions (128 to 10240). @default 512 */
  memoryMb: z.int().min(128).max(10_240).default(512),
  /** Timeout in seconds (1 to 29: API Gateway gives up on an integration after 29 s). @default 10 */
  timeoutSeconds: seconds(1, 29).default(10),
  /** Days their log groups keep their logs (a CloudWatch Logs retention value). @default 30 */
  logRetentionDays: z
    .int()
    .refine((d) => LOG_RETENTION_DAYS.includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .transform((d) => d as RetentionDays)
    .default(RetentionDays.ONE_MONTH),
  /** Powertools log level. @default 'INFO' */
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
});

const WafSchema = z.strictObject({
  /**
   * Requests one client address may send per evaluation window before the web ACL blocks it
   * (10 to 2e9). It guards against floods, not per-client fairness (that is the usage plans'):
   * keep it above the fastest configured client's rate over the window. @default 200000 (5 minutes of 667 requests/s)
   */
  rateLimitPerIp: z.int().min(10).max(2_000_000_000).default(200_000),
  /** Seconds over which the rate-based rule counts an address's requests (60, 120, 300 or 600). @default 300 */
  evaluationWindowSeconds: z.union([z.literal(60), z.literal(120), z.literal(300), z.literal(600)], { error: 'must be 60, 120, 300 or 600' }).default(300),
  /** Days the web ACL's log group keeps its logs (a CloudWatch Logs retention value). @default 30 */
  logRetentionDays: z
    .int()
    .refine((d) => LOG_RETENTION_DAYS.includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .transform((d) => d as RetentionDays)
    .default(RetentionDays.ONE_MONTH),
});

const ApiSchema = z
  .strictObject({
    /** How bearer tokens are issued and checked. @default { mode: 'cognito' } */
    auth: ApiAuthSchema.prefault({ mode: 'cognito' }),
    /**
     * Usage-plan tiers by name: per API key, steady requests per second, burst and requests per
     * day. The local API's token buckets use the same numbers. @default API_TIER_DEFAULTS (standard, premium)
     */
    tiers: z
      .record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1-32 lowercase letters, digits or -, starting with a letter'), UsageTierSchema)
      .refine((t) => Object.keys(t).length > 0, 'must define at least one tier')
      .default(() => structuredClone({ ...API_TIER_DEFAULTS })),
    /** The API's clients: each gets an API key in its tier's usage plan and, in cognito mode, an app client. @default [{ name: 'default', tier: 'standard' }] */
    clients: z
      .array(ApiClientSchema)
      .refine((c) => new Set(c.map((x) => x.name)).size === c.length, 'must not repeat a client name')
      .default(() => [{ name: 'default', tier: 'standard', scopes: [...SCOPES] }]),
    /** The stage's default throttle, every client together. @default { rateLimit: 1000, burstLimit: 2000 } */
    throttle: ThrottleSchema.default({ rateLimit: 1000, burstLimit: 2000 }),
    /** Method-level throttles, every client together, keyed `<METHOD> <path>` as in lib/core/api/routes.ts. */
    routeThrottles: RouteThrottlesSchema.prefault({}),
    waf: WafSchema.prefault({}),
    /** Days the stage's JSON access log keeps its entries (a CloudWatch Logs retention value). @default 30 */
    accessLogRetentionDays: z
      .int()
      .refine((d) => LOG_RETENTION_DAYS.includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .transform((d) => d as RetentionDays)
      .default(RetentionDays.ONE_MONTH),
    /** API Gateway execution logs of every method (never with request or response bodies). @default 'ERROR' */
    executionLogLevel: z.enum(['OFF', 'ERROR', 'INFO']).default('ERROR'),
    /**
     * Let the stack set the account-wide role through which API Gateway writes execution logs (an
     * AWS::ApiGateway::Account, retained on delete). Turn off where the account already has one. @default true
     */
    cloudWatchRole: z.boolean().default(true),
    /** X-Ray tracing of the stage and the API's functions. @default true */
    tracing: z.boolean().default(true),
    /** The labels, features, models and authorizer functions. */
    functions: ApiFunctionsSchema.prefault({}),
  })
  .superRefine((api, ctx) => {
    api.clients.forEach((client, i) => {
      const tier = api.tiers[client.tier];
      if (!tier) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'tier'], message: `must be one of the tiers: ${Object.keys(api.tiers).join(', ')}` });
        return;
      }
      // One client behind one address must not be cut off by the web ACL below its own plan's rate.
      const allowed = tier.rateLimit * api.waf.evaluationWindowSeconds;
      if (allowed > api.waf.rateLimitPerIp) {
        ctx.addIssue({
          code: 'custom',
          path: ['waf', 'rateLimitPerIp'],
          message: `must be at least ${Math.ceil(allowed)}: client ${client.name}'s tier ${client.tier} allows ${tier.rateLimit} requests/s, ${Math.ceil(allowed)} per ${api.waf.evaluationWindowSeconds} s window`,
        });
      }
    });
  });

export const FathomConfigSchema = z
  .strictObject({
    /** Prefix of every physical resource name (see lib/core/resources.ts). @default 'fathom' */
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,30}[a-z0-9]$/, 'must be 3 to 32 lowercase letters, digits or hyphens, starting with a letter')
      .default('fathom'),
    /** @default - environment-agnostic stacks */
    env: EnvSchema.prefault({}),
    stream: StreamSchema.prefault({}),
    featureTransform: FeatureTransformSchema.prefault({}),
    features: FeaturesSchema.prefault({}),
    onlineStore: OnlineStoreSchema.prefault({}),
    alarms: AlarmsSchema.prefault({}),
    registry: RegistrySchema.prefault({}),
    scoring: ScoringSchema.prefault({}),
    offlineStore: OfflineStoreSchema.prefault({}),
    /** The API edge (lib/infra/stacks/api-stack.ts): auth, clients and their usage plans, throttles, WAF, logs. */
    api: ApiSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    // Records leave the stream after the retention period: an event source limit beyond it
    // would never apply, and a reader would believe records wait longer than they do.
    const age = config.featureTransform.maximumRecordAgeSeconds;
    if (age !== -1 && age > config.stream.retentionHours * 3600) {
      ctx.addIssue({
        code: 'custom',
        path: ['featureTransform', 'maximumRecordAgeSeconds'],
        message: `must not exceed the stream retention (${config.stream.retentionHours} h = ${config.stream.retentionHours * 3600} s)`,
      });
    }
    // A lag alarm must fire while the lagging records can still be processed: at the stream
    // retention they expire, at the maximum record age the event source discards them.
    const lag = config.alarms.iteratorAgeSeconds;
    const retention = config.stream.retentionHours * 3600;
    if (lag >= retention) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarms', 'iteratorAgeSeconds'],
        message: `must be below the stream retention (${config.stream.retentionHours} h = ${retention} s): records expire there`,
      });
    } else if (age !== -1 && lag >= age) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarms', 'iteratorAgeSeconds'],
        message: `must be below featureTransform.maximumRecordAgeSeconds (${age} s): older records go to the dead-letter queue unprocessed`,
      });
    }
  });

/** The validated configuration, every default filled in. */
export type FathomConfig = z.output<typeof FathomConfigSchema>;
/** What cdk.json may hold: every key optional. */
export type FathomConfigInput = z.input<typeof FathomConfigSchema>;

/**
 * Validates the raw `fathom` context value (undefined when cdk.json has none) and fills in the defaults.
 * @throws ConfigError naming the first offending field as a dotted path, e.g. `fathom.featureTransform.batchSize`.
 */
export function loadConfig(raw: unknown): FathomConfig {
  const result = FathomConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new ConfigError(`invalid ${CONFIG_CONTEXT_KEY} configuration`, CONFIG_CONTEXT_KEY);
  const path = [CONFIG_CONTEXT_KEY, ...issue.path.map(String)];
  // An unknown key is reported at its own path, not at the object that holds it.
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const field = path.join('.');
  throw new ConfigError(`${field}: ${issue.message}`, field);
}

/** The configuration with nothing overridden: the documented defaults. */
export const DEFAULT_CONFIG: FathomConfig = loadConfig(undefined);
