// The API handlers' environments, validated once at cold start: a missing or malformed variable
// stops the function at init with a ConfigError naming it, never a request halfway through.
import { z } from 'zod';
import { ConfigError } from '../../core/errors';
import { ENV, FEATURE_TRANSFORM_DEFAULTS } from '../../core/resources';

function read<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const r = schema.safeParse(env);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = String(issue?.path[0] ?? 'env');
    throw new ConfigError(`environment variable ${field}: ${issue?.message ?? 'invalid'}`, field);
  }
  return r.data;
}

const LabelsEnv = z.object({ [ENV.labelsDeliveryStream]: z.string().min(1) });

export interface LabelsEnv {
  /** The Firehose delivery stream of the offline `labels` table. */
  readonly deliveryStream: string;
}

export function readLabelsEnv(env: NodeJS.ProcessEnv = process.env): LabelsEnv {
  return { deliveryStream: read(LabelsEnv, env)[ENV.labelsDeliveryStream] };
}

const FeaturesEnv = z.object({
  [ENV.onlineStoreTable]: z.string().min(1),
  // The engine's lateness shapes how buffered events enter the features: it must be the stream's.
  [ENV.allowedLatenessSeconds]: z.coerce.number().int().min(0).max(3600).default(FEATURE_TRANSFORM_DEFAULTS.allowedLatenessSeconds),
});

export interface FeaturesEnv {
  readonly tableName: string;
  readonly allowedLatenessMs: number;
}

export function readFeaturesEnv(env: NodeJS.ProcessEnv = process.env): FeaturesEnv {
  const d = read(FeaturesEnv, env);
  return { tableName: d[ENV.onlineStoreTable], allowedLatenessMs: d[ENV.allowedLatenessSeconds] * 1000 };
}

const AuthorizerEnv = z.object({
  [ENV.oidcIssuer]: z.string().min(1),
  [ENV.oidcAudience]: z.string().min(1),
  // Keys fetched over plain HTTP could be swapped on the way; loopback is allowed for local tests.
  [ENV.oidcJwksUrl]: z.string().url().refine((u) => u.startsWith('https://') || u.startsWith('http://127.0.0.1') || u.startsWith('http://localhost'), 'must be an https URL'),
});

export interface AuthorizerEnv {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
}

export function readAuthorizerEnv(env: NodeJS.ProcessEnv = process.env): AuthorizerEnv {
  const d = read(AuthorizerEnv, env);
  return { issuer: d[ENV.oidcIssuer], audience: d[ENV.oidcAudience], jwksUrl: d[ENV.oidcJwksUrl] };
}
