// The feature-transform handler's environment, validated once at cold start.
import { z } from 'zod';
import { ConfigError } from '../core/errors';
import { ENV } from '../core/resources';

const Env = z.object({
  [ENV.onlineStoreTable]: z.string().min(1),
  [ENV.dlqUrl]: z.string().url(),
  [ENV.allowedLatenessSeconds]: z.coerce.number().int().min(0).max(3600).default(300),
  [ENV.stateTtlDays]: z.coerce.number().positive().max(3650).default(45),
  [ENV.eventsDeliveryStream]: z.string().min(1).optional(),
  [ENV.featureLogDeliveryStream]: z.string().min(1).optional(),
});

export interface FeatureTransformEnv {
  readonly tableName: string;
  readonly dlqUrl: string;
  readonly allowedLatenessMs: number;
  readonly stateTtlDays: number;
  /** Firehose streams of the `events` and `feature_log` tables; absent together: nothing is logged offline. */
  readonly offlineLog?: { readonly eventsStream: string; readonly featureLogStream: string };
}

export function readFeatureTransformEnv(env: NodeJS.ProcessEnv = process.env): FeatureTransformEnv {
  const r = Env.safeParse(env);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = String(issue?.path[0] ?? 'env');
    throw new ConfigError(`environment variable ${field}: ${issue?.message ?? 'invalid'}`, field);
  }
  return {
    tableName: r.data[ENV.onlineStoreTable],
    dlqUrl: r.data[ENV.dlqUrl],
    allowedLatenessMs: r.data[ENV.allowedLatenessSeconds] * 1000,
    stateTtlDays: r.data[ENV.stateTtlDays],
    ...offlineLogOf(r.data[ENV.eventsDeliveryStream], r.data[ENV.featureLogDeliveryStream]),
  };
}

function offlineLogOf(eventsStream: string | undefined, featureLogStream: string | undefined): Pick<FeatureTransformEnv, 'offlineLog'> {
  if (eventsStream && featureLogStream) return { offlineLog: { eventsStream, featureLogStream } };
  // Half a configuration would log events without their vectors (or the reverse): refuse it.
  if (eventsStream || featureLogStream) {
    const missing = eventsStream ? ENV.featureLogDeliveryStream : ENV.eventsDeliveryStream;
    throw new ConfigError(`environment variable ${missing}: required when the other offline-log stream is set`, missing);
  }
  return {};
}
