// The scoring handler's environment, validated once at cold start.
import { z } from 'zod';
import { ConfigError } from '../core/errors';
import { ModelNameSchema, type ModelName } from '../core/models/manifest';
import { ENV, FEATURE_TRANSFORM_DEFAULTS, SCORING_DEFAULTS } from '../core/resources';

const Env = z.object({
  [ENV.onlineStoreTable]: z.string().min(1),
  [ENV.modelRegistryTable]: z.string().min(1),
  [ENV.modelBucket]: z.string().min(1),
  [ENV.modelSigningKey]: z.string().regex(/^(kms|local):.+$/, 'must be kms:<key arn> or local:<public key PEM path>'),
  [ENV.defaultModelName]: ModelNameSchema.default(SCORING_DEFAULTS.defaultModelName as ModelName),
  [ENV.modelRefreshSeconds]: z.coerce.number().int().min(1).max(3600).default(SCORING_DEFAULTS.modelRefreshSeconds),
  // Must equal the stream's: the merchant features and the new-merchant flag of f(S, e) depend on it.
  [ENV.allowedLatenessSeconds]: z.coerce.number().int().min(0).max(3600).default(FEATURE_TRANSFORM_DEFAULTS.allowedLatenessSeconds),
  [ENV.predictionsDeliveryStream]: z.string().min(1).optional(),
});

export interface ScoringEnv {
  readonly tableName: string;
  readonly registryTable: string;
  readonly modelBucket: string;
  /** `kms:<key arn>` or `local:<path to a public key PEM>`. */
  readonly signingKey: string;
  readonly defaultModel: ModelName;
  readonly refreshIntervalMs: number;
  readonly allowedLatenessMs: number;
  /** The `predictions` delivery stream; unset, served predictions are not logged (the handler warns at init). */
  readonly predictionsDeliveryStream: string | undefined;
}

export function readScoringEnv(env: NodeJS.ProcessEnv = process.env): ScoringEnv {
  const r = Env.safeParse(env);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = String(issue?.path[0] ?? 'env');
    throw new ConfigError(`environment variable ${field}: ${issue?.message ?? 'invalid'}`, field);
  }
  const d = r.data;
  return {
    tableName: d[ENV.onlineStoreTable],
    registryTable: d[ENV.modelRegistryTable],
    modelBucket: d[ENV.modelBucket],
    signingKey: d[ENV.modelSigningKey],
    defaultModel: d[ENV.defaultModelName],
    refreshIntervalMs: d[ENV.modelRefreshSeconds] * 1000,
    allowedLatenessMs: d[ENV.allowedLatenessSeconds] * 1000,
    predictionsDeliveryStream: d[ENV.predictionsDeliveryStream],
  };
}
