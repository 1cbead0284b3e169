// The API part of the local platform (`npm start`): the registry provisioned, a production model
// bootstrapped when there is none, the scoring, labels, features and models handlers loaded as
// Lambda loads them (environment first, module second, one module instance per execution
// environment), the local issuer and API keys opened under the data dir, and the local API
// started in front of them.
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModelRegistry } from '../../adapters/registry/model-registry';
import { PackageVerifier } from '../../adapters/registry/verifier';
import type { UsagePlanLimits } from '../../core/api/usage-plan';
import { ConfigError } from '../../core/errors';
import type { ModelName, ModelVersion } from '../../core/models/manifest';
import { ENV, SCORING_DEFAULTS, type PlatformResources } from '../../core/resources';
import type { LocalClients } from '../aws-clients';
import { provisionRegistry } from '../provision';
import { openApiKeys, type LocalApiKey } from './api-keys';
import { ensureProductionModel, type BootstrapResult } from './bootstrap-model';
import { ApiFunctionPool, type ApiEnvironment, type ApiFunction } from './function-pool';
import { LocalIssuer } from './issuer';
import { DEFAULT_API_PORT, startLocalApi, type LambdaTargetName, type LocalApiStats } from './server';
import { readApiSettings, type LocalApiSettings } from './settings';

const handlerPath = (name: string) => fileURLToPath(new URL(`../../../lambdas/${name}/handler.ts`, import.meta.url));

/** The entry module of each API function, as the CDK stacks point at them. */
export const API_HANDLERS: Readonly<Record<LambdaTargetName, string>> = {
  scoring: handlerPath('scoring'),
  labels: handlerPath('labels'),
  features: handlerPath('features'),
  models: handlerPath('models'),
};

/** Function timeouts as deployed: scoring's from SCORING_DEFAULTS, the others' the config's default (10 s). */
const TIMEOUT_MS: Readonly<Record<LambdaTargetName, number>> = {
  scoring: SCORING_DEFAULTS.timeoutSeconds * 1000,
  labels: 10_000,
  features: 10_000,
  models: 10_000,
};

export interface PlatformApiOptions {
  /** Default DEFAULT_API_PORT (3000); 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Usage-plan tiers and clients; default: cdk.json's `api.tiers` and `api.clients` (readApiSettings). */
  readonly settings?: LocalApiSettings;
  /** Train, register and promote a model when the default one has no production version. Default true. */
  readonly bootstrapModel?: boolean;
  /** The model served when a score request names none. Default SCORING_DEFAULTS.defaultModelName. */
  readonly defaultModel?: ModelName;
  /** Execution environments per function at most. Default 4 (ApiFunctionPool). */
  readonly maxEnvironments?: number;
  /** Steps of the start (the model bootstrap); the platform's `log` by default. */
  readonly progress?: (line: string) => void;
  /** Failed integrations, with their cause; the platform's `log` by default. */
  readonly log?: (line: string) => void;
}

export interface PlatformApi {
  readonly url: string;
  readonly port: number;
  readonly issuer: LocalIssuer;
  readonly apiKeys: readonly LocalApiKey[];
  readonly tiers: Readonly<Record<string, UsagePlanLimits>>;
  /** The production version of the default model at start, and whether it was trained just now. */
  readonly model: { readonly name: ModelName; readonly version: ModelVersion | undefined; readonly bootstrap: BootstrapResult | undefined };
  stats(): LocalApiStats;
  close(): Promise<void>;
}

export interface PlatformApiContext {
  readonly dataDir: string;
  readonly clients: LocalClients;
  readonly definitions: PlatformResources;
  readonly streamName: string;
  readonly partitionKeyField: string;
  /** Sets a variable of the functions' environment; the platform undoes it at stop. */
  readonly setEnv: (name: string, value: string) => void;
  readonly prefix: string;
  readonly progress: (line: string) => void;
  readonly log: (line: string) => void;
}

export async function startPlatformApi(options: PlatformApiOptions, ctx: PlatformApiContext): Promise<PlatformApi> {
  const settings = options.settings ?? readApiSettings();
  const defaultModel = options.defaultModel ?? (SCORING_DEFAULTS.defaultModelName as ModelName);
  const registryResources = await provisionRegistry(ctx.clients, ctx.definitions, ctx.dataDir);
  const registry = new ModelRegistry({
    dynamodb: ctx.clients.dynamodb,
    s3: ctx.clients.s3,
    tableName: registryResources.tableName,
    bucket: registryResources.bucket,
    verifier: PackageVerifier.fromSetting(registryResources.signingKey),
    signer: registryResources.signer,
  });
  const bootstrap = options.bootstrapModel === false ? undefined : await ensureProductionModel({ registry, name: defaultModel, progress: ctx.progress });
  const version = bootstrap?.version ?? (await registry.productionVersion(defaultModel));

  for (const [name, value] of Object.entries(registryResources.environment)) ctx.setEnv(name, value);
  ctx.setEnv(ENV.defaultModelName, defaultModel);
  ctx.setEnv(ENV.modelRefreshSeconds, String(SCORING_DEFAULTS.modelRefreshSeconds));
  ctx.setEnv(ENV.labelsDeliveryStream, ctx.definitions.offlineStore.deliveryStreams.labels.name);
  ctx.setEnv(ENV.predictionsDeliveryStream, ctx.definitions.offlineStore.deliveryStreams.predictions.name);

  const pools = {} as Record<LambdaTargetName, ApiFunctionPool>;
  for (const name of Object.keys(API_HANDLERS) as LambdaTargetName[]) {
    pools[name] = new ApiFunctionPool({
      functionName: `${ctx.prefix}-${name}`,
      coldStart: () => loadApiEnvironment(API_HANDLERS[name]),
      timeoutMs: TIMEOUT_MS[name],
      ...(options.maxEnvironments !== undefined ? { maxEnvironments: options.maxEnvironments } : {}),
    });
  }
  const closePools = () => Promise.allSettled(Object.values(pools).map((p) => p.close()));
  try {
    // One environment each now: a handler that cannot load stops the start with its error.
    await Promise.all(Object.values(pools).map((p) => p.warm()));
    const issuer = await LocalIssuer.open(ctx.dataDir);
    const apiKeys = openApiKeys(ctx.dataDir, settings.clients);
    const api = await startLocalApi({
      port: options.port ?? DEFAULT_API_PORT,
      ...(options.host !== undefined ? { host: options.host } : {}),
      functions: pools,
      kinesis: ctx.clients.kinesis,
      streamName: ctx.streamName,
      partitionKeyField: ctx.partitionKeyField,
      verifier: issuer.verifier(),
      jwks: issuer.jwks(),
      apiKeys,
      tiers: settings.tiers,
      log: ctx.log,
    });
    return {
      url: api.url,
      port: api.port,
      issuer,
      apiKeys,
      tiers: settings.tiers,
      model: { name: defaultModel, version, bootstrap },
      stats: () => api.stats(),
      close: async () => {
        await api.close();
        await closePools();
      },
    };
  } catch (error) {
    await closePools();
    throw error;
  }
}

/** How many times each handler module has been loaded in this process. */
const loads = new Map<string, number>();

/**
 * Imports a handler module as Lambda's runtime does at a cold start: a fresh module instance per
 * execution environment (a query string defeats the module cache), reading the environment as it
 * is now. Its exported `modelCache`, if any, is closed at shutdown (the scoring handler's loaded
 * models).
 */
async function loadApiEnvironment(modulePath: string): Promise<ApiEnvironment> {
  const path = resolve(modulePath);
  const count = (loads.get(path) ?? 0) + 1;
  loads.set(path, count);
  const url = pathToFileURL(path).href + (count > 1 ? `?cold-start=${count}` : '');
  const module = (await import(url)) as { handler?: unknown; modelCache?: { close?: unknown } };
  if (typeof module.handler !== 'function') throw new ConfigError(`${modulePath} does not export a function named handler`, 'handler');
  const cache = module.modelCache;
  return {
    handler: module.handler as ApiFunction,
    close: async () => {
      if (cache && typeof cache.close === 'function') await (cache.close as () => Promise<void>).call(cache);
    },
  };
}
