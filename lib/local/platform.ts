// The embedded platform: stand-ins, the platform's resources provisioned from the shared
// definitions, the feature-transform handler loaded as Lambda would load it (environment first,
// module second), and the Kinesis event source mapping that feeds it.
import { join, resolve } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors';
import { ENV, FEATURE_TRANSFORM_DEFAULTS, platformResources } from '../core/resources';
import { localAwsEnvironment, localClients, type LocalClients, type StandInEndpoints } from './aws-clients';
import { FileCheckpointStore, MemoryCheckpointStore } from './checkpoint-store';
import { FunctionPool } from './function-pool';
import { EventSourcePoller, type KinesisFunction, type MappingSettings } from './event-source-poller';
import { provision, type ProvisionedResources } from './provision';
import { startPlatformApi, type PlatformApi, type PlatformApiOptions } from './api/platform-api';
import { startStandIns, type StandInPorts } from './stand-ins';

export const FEATURE_TRANSFORM_HANDLER = fileURLToPath(new URL('../../lambdas/feature-transform/handler.ts', import.meta.url));

/**
 * The feature-transform event source mapping and function settings, mirroring the defaults of
 * lib/infra/config.ts (cdk.json `fathom.featureTransform` and `fathom.features`), which lib/local
 * may not import. Poll and backoff times are local choices: AWS does not expose them.
 */
export const FEATURE_TRANSFORM_MAPPING: MappingSettings = {
  batchSize: FEATURE_TRANSFORM_DEFAULTS.batchSize,
  maximumBatchingWindowMs: FEATURE_TRANSFORM_DEFAULTS.maxBatchingWindowSeconds * 1000,
  startingPosition: 'TRIM_HORIZON',
  bisectBatchOnFunctionError: FEATURE_TRANSFORM_DEFAULTS.bisectOnError,
  reportBatchItemFailures: true,
  maximumRetryAttempts: FEATURE_TRANSFORM_DEFAULTS.maximumRetryAttempts,
  pollIntervalMs: 100,
  retryBackoffMs: 200,
};
const FEATURE_TRANSFORM_TIMEOUT_MS = FEATURE_TRANSFORM_DEFAULTS.timeoutSeconds * 1000;
const ALLOWED_LATENESS_SECONDS = FEATURE_TRANSFORM_DEFAULTS.allowedLatenessSeconds;
const STATE_TTL_DAYS = FEATURE_TRANSFORM_DEFAULTS.stateTtlDays;

export interface LocalPlatformOptions {
  /** State directory; `.fathom/` in the repository root by default. */
  readonly dataDir?: string;
  /** Keep state on disk (default true); tests pass false for in-memory stores. */
  readonly persist?: boolean;
  readonly ports?: StandInPorts;
  /** Resource name prefix, as in cdk.json (default 'fathom'). */
  readonly prefix?: string;
  /**
   * The function the stream feeds: a module path exporting `handler` (each concurrent execution
   * environment gets its own instance of the module, as on Lambda), or a function, called as is.
   */
  readonly handler?: string | KinesisFunction;
  readonly mapping?: Partial<MappingSettings>;
  readonly allowedLatenessSeconds?: number;
  /**
   * Endpoints the handler's SDK clients are pointed at instead of the stand-ins' own, e.g. a
   * fault-injecting proxy in front of dynalite. The platform's own clients still go direct.
   */
  readonly handlerEndpoints?: Partial<StandInEndpoints>;
  /**
   * Keep the function's Powertools output to warnings (no INFO logs, no EMF metric blobs): on Lambda
   * that output goes to CloudWatch, here it would share the terminal with the CLI. Default false.
   */
  readonly quietFunction?: boolean;
  /** Where the platform's own notices go (poller errors); stderr by default. */
  readonly log?: (message: string) => void;
  /**
   * Start the local API (lib/local/api) too: the scoring, labels, features and models handlers
   * behind JWT and API-key checks, with a production model bootstrapped when there is none. Off
   * unless given (`fathom local` gives it).
   */
  readonly api?: PlatformApiOptions;
}

export interface LocalPlatform {
  readonly dataDir: string;
  readonly endpoints: StandInEndpoints;
  readonly clients: LocalClients;
  readonly resources: ProvisionedResources;
  readonly poller: EventSourcePoller;
  /** The environment the handler was loaded with. */
  readonly handlerEnvironment: Readonly<Record<string, string>>;
  /** The local API, when `api` was given. */
  readonly api: PlatformApi | undefined;
  /** Messages in the feature-transform DLQ, visible or in flight. */
  dlqDepth(): Promise<number>;
  /** Stops polling (the invocation in flight finishes), then every stand-in; restores the environment. */
  stop(): Promise<void>;
}

export async function startLocalPlatform(options: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  const persist = options.persist ?? true;
  const standIns = await startStandIns({
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    persist,
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.ports ? { ports: options.ports } : {}),
  });
  const clients = localClients(standIns.endpoints);
  const restoreEnv: Array<() => void> = [];
  let poller: EventSourcePoller | undefined;
  let api: PlatformApi | undefined;
  const stop = async () => {
    // Requests first: nothing new reaches the handlers or the stream once the platform stops.
    await api?.close();
    await poller?.stop();
    clients.destroy();
    for (const restore of restoreEnv.splice(0).reverse()) restore();
    await standIns.stop();
  };

  try {
    const definitions = platformResources(options.prefix);
    const resources = await provision(clients, definitions);
    const handlerEnvironment: Record<string, string> = {
      ...localAwsEnvironment({ ...standIns.endpoints, ...options.handlerEndpoints }),
      [ENV.onlineStoreTable]: resources.tableName,
      [ENV.eventsStream]: resources.streamName,
      [ENV.dlqUrl]: resources.dlqUrl,
      [ENV.allowedLatenessSeconds]: String(options.allowedLatenessSeconds ?? ALLOWED_LATENESS_SECONDS),
      [ENV.stateTtlDays]: String(STATE_TTL_DAYS),
      // The stand-ins' Firehose endpoint writes these streams into the local Iceberg tables.
      [ENV.eventsDeliveryStream]: definitions.offlineStore.deliveryStreams.events.name,
      [ENV.featureLogDeliveryStream]: definitions.offlineStore.deliveryStreams.feature_log.name,
    };
    // Set before the handler module is imported: it reads its configuration at load, like a cold start.
    restoreEnv.push(...Object.entries(handlerEnvironment).map(([name, value]) => setEnv(name, value)));
    // A session token or profile from the caller's shell would be sent to the stand-ins, or win over the keys.
    restoreEnv.push(setEnv('AWS_SESSION_TOKEN', undefined), setEnv('AWS_PROFILE', undefined));
    if (options.quietFunction) {
      restoreEnv.push(setEnv('POWERTOOLS_LOG_LEVEL', 'WARN'), setEnv('POWERTOOLS_METRICS_DISABLED', 'true'));
    }

    let fn: KinesisFunction;
    if (typeof options.handler === 'function') {
      fn = options.handler;
    } else {
      const modulePath = options.handler ?? FEATURE_TRANSFORM_HANDLER;
      const pool = new FunctionPool(() => loadHandler(modulePath));
      await pool.warm();
      fn = pool.invoke;
    }
    const checkpoints = persist
      ? new FileCheckpointStore(join(standIns.dataDir, 'checkpoints', `${resources.streamName}.json`))
      : new MemoryCheckpointStore();
    poller = await EventSourcePoller.start({
      ...FEATURE_TRANSFORM_MAPPING,
      ...options.mapping,
      kinesis: clients.kinesis,
      streamName: resources.streamName,
      fn,
      functionName: `${options.prefix ?? 'fathom'}-feature-transform`,
      functionTimeoutMs: FEATURE_TRANSFORM_TIMEOUT_MS,
      onFailure: { sqs: clients.sqs, queueUrl: resources.dlqUrl },
      checkpoints,
      ...(options.log ? { log: options.log } : {}),
    });
    if (options.api) {
      const log = options.api.log ?? options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
      api = await startPlatformApi(options.api, {
        dataDir: standIns.dataDir,
        clients,
        definitions,
        streamName: resources.streamName,
        partitionKeyField: resources.partitionKeyField,
        setEnv: (name, value) => restoreEnv.push(setEnv(name, value)),
        prefix: options.prefix ?? 'fathom',
        progress: options.api.progress ?? log,
        log,
      });
    }
    return {
      dataDir: standIns.dataDir,
      endpoints: standIns.endpoints,
      clients,
      resources,
      poller,
      handlerEnvironment,
      api,
      dlqDepth: () => queueDepth(clients, resources.dlqUrl),
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

async function queueDepth(clients: LocalClients, queueUrl: string): Promise<number> {
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** How many times each handler module has been loaded in this process. */
const loads = new Map<string, number>();

/**
 * Imports a handler module the way Lambda's runtime does at a cold start. Every load after the
 * first gets a fresh instance of the module (a query string defeats the module cache), reading the
 * current environment: one per execution environment, and new ones for a later platform in the
 * same process. Modules it imports are shared, so they must not capture endpoints or per-call state.
 */
async function loadHandler(modulePath: string): Promise<KinesisFunction> {
  const path = resolve(modulePath);
  const count = (loads.get(path) ?? 0) + 1;
  loads.set(path, count);
  const url = pathToFileURL(path).href + (count > 1 ? `?cold-start=${count}` : '');
  const module = (await import(url)) as { handler?: unknown };
  if (typeof module.handler !== 'function') {
    throw new ConfigError(`${modulePath} does not export a function named handler`, 'handler');
  }
  return module.handler as KinesisFunction;
}

/** Sets (or, with undefined, removes) an environment variable; returns what undoes it. */
function setEnv(name: string, value: string | undefined): () => void {
  const previous = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  return () => {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  };
}
