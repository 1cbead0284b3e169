import { beforeEach, describe, expect, it } from 'vitest';
import { ModelCache, type ModelCacheEvent } from '../../../lib/adapters/scoring/model-cache';
import { ResourceError } from '../../../lib/core/errors';
import type { ModelName } from '../../../lib/core/models/manifest';
import { assertServable } from '../../../lib/core/scoring/compatibility';
import { ModelIncompatibleError, ModelNotFoundError, ModelUnavailableError, TierNotDeployedError } from '../../../lib/core/scoring/errors';
import { ModelRouter } from '../../../lib/core/scoring/router';
import { FakeRegistry, FakeRuntime, FakeSignatureError, NAME, engine, flush, manifest } from './fakes';

const REFRESH_MS = 30_000;

let clock: number;
let registry: FakeRegistry;
let runtime: FakeRuntime;
let events: ModelCacheEvent[];
let cache: ModelCache;

beforeEach(() => {
  clock = 1_000_000;
  registry = new FakeRegistry().add(manifest('1')).add(manifest('2'));
  registry.promote(NAME, '1');
  runtime = new FakeRuntime();
  events = [];
  cache = new ModelCache({
    registry,
    router: new ModelRouter({ cpu: runtime }),
    accept: (m) => assertServable(m, engine),
    refreshIntervalMs: REFRESH_MS,
    coldRetryMs: 5_000,
    now: () => clock,
    onEvent: (e) => events.push(e),
  });
});

/** Acquires, reads the version and releases: one request's use of the cache. */
async function servedVersion(name: ModelName = NAME): Promise<string> {
  const lease = await cache.acquire(name);
  lease.release();
  return lease.manifest.version;
}

/** Resolves to 'pending' when `promise` has not settled after every queued callback ran. */
async function state(promise: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  let s: 'resolved' | 'rejected' | 'pending' = 'pending';
  promise.then(
    () => (s = 'resolved'),
    () => (s = 'rejected'),
  );
  await flush();
  return s;
}

describe('ModelCache: the cold load', () => {
  it('is the only wait, shared by every request that arrives during it', async () => {
    const warmup = runtime.holdWarmup('1');
    const first = cache.acquire(NAME);
    const second = cache.acquire(NAME);
    expect(await state(first)).toBe('pending');
    warmup.resolve();
    const [a, b] = await Promise.all([first, second]);
    expect([a.manifest.version, b.manifest.version]).toEqual(['1', '1']);
    expect(registry.packageReads).toEqual(['1']);
    expect(runtime.loads).toEqual(['1']);
    expect(events.filter((e) => e.type === 'loaded')).toEqual([expect.objectContaining({ version: '1', cold: true })]);
  });

  it('answers model_not_found when nothing is promoted, and does not ask again within coldRetryMs', async () => {
    registry.production.clear();
    await expect(cache.acquire(NAME)).rejects.toBeInstanceOf(ModelNotFoundError);
    await expect(cache.acquire(NAME)).rejects.toBeInstanceOf(ModelNotFoundError);
    expect(registry.pointerReads).toBe(1);
    registry.promote(NAME, '1');
    clock += 5_000;
    expect(await servedVersion()).toBe('1');
  });

  it('refuses a package that fails verification, naming the model, and retries only after coldRetryMs', async () => {
    registry.tampered.add('1');
    const error = await cache.acquire(NAME).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect((error as ModelUnavailableError).cause).toBeInstanceOf(FakeSignatureError);
    expect((error as Error).message).toMatch(/card-fraud version 1 could not be loaded: .*sha256/);
    expect(runtime.loads).toEqual([]);
    clock += 4_999;
    await expect(cache.acquire(NAME)).rejects.toBe(error);
    expect(registry.packageReads).toEqual(['1']);
    registry.tampered.clear();
    clock += 1;
    expect(await servedVersion()).toBe('1');
  });

  it('answers tier_not_deployed for a GPU-tier model without loading it', async () => {
    registry.add(manifest('3', { tier: 'gpu-small' }));
    registry.promote(NAME, '3');
    const error = await cache.acquire(NAME).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TierNotDeployedError);
    expect(error).toMatchObject({ code: 'tier_not_deployed', tier: 'gpu-small', model: NAME, version: '3' });
    expect(runtime.loads).toEqual([]);
  });

  it('refuses a manifest whose features are not the engine’s', async () => {
    const swapped = [...engine.names];
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    registry.add(manifest('4', { features: swapped }));
    registry.promote(NAME, '4');
    const error = await cache.acquire(NAME).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelIncompatibleError);
    expect((error as ModelIncompatibleError).field).toBe('manifest.features[0]');
    registry.add(manifest('5', { feature_set: 'card_fraud.v2' }));
    registry.promote(NAME, '5');
    clock += 5_000;
    await expect(cache.acquire(NAME)).rejects.toMatchObject({ field: 'manifest.feature_set' });
    expect(runtime.loads).toEqual([]);
  });

  it('passes a retryable registry failure through, for a 503 the client may retry', async () => {
    registry.pointerError = new ResourceError('fathom-model-registry: throttled', 'fathom-model-registry', true);
    await expect(cache.acquire(NAME)).rejects.toBe(registry.pointerError);
  });
});

describe('ModelCache: hot swap', () => {
  beforeEach(async () => {
    expect(await servedVersion()).toBe('1');
    registry.promote(NAME, '2');
  });

  it('checks the production pointer at most once per refresh interval', async () => {
    const reads = registry.pointerReads;
    clock += REFRESH_MS - 1;
    for (let i = 0; i < 5; i++) expect(await servedVersion()).toBe('1');
    expect(registry.pointerReads).toBe(reads);
    clock += 1;
    await servedVersion();
    await servedVersion();
    expect(registry.pointerReads).toBe(reads + 1);
  });

  it('never makes a request wait on the background load', async () => {
    const fetch = registry.gate('2');
    clock += REFRESH_MS;
    // This request starts the check; it and every later one answer at once with version 1.
    for (let i = 0; i < 10; i++) {
      const request = cache.acquire(NAME);
      expect(await state(request)).toBe('resolved');
      const lease = await request;
      expect(lease.manifest.version).toBe('1');
      lease.release();
    }
    expect(registry.packageReads).toEqual(['1', '2']);
    fetch.resolve();
    await cache.settled();
    expect(await servedVersion()).toBe('2');
  });

  it('switches only after the new version is loaded and warmed up', async () => {
    const warmup = runtime.holdWarmup('2');
    clock += REFRESH_MS;
    expect(await servedVersion()).toBe('1');
    await flush();
    expect(runtime.loads).toEqual(['1', '2']);
    expect(await servedVersion()).toBe('1');
    expect(events.map((e) => e.type)).not.toContain('swapped');
    warmup.resolve();
    await cache.settled();
    expect(await servedVersion()).toBe('2');
    expect(events.filter((e) => e.type === 'swapped')).toEqual([{ type: 'swapped', name: NAME, from: '1', to: '2' }]);
  });

  it('keeps serving the old version when the new one fails verification, and reports it', async () => {
    registry.tampered.add('2');
    clock += REFRESH_MS;
    expect(await servedVersion()).toBe('1');
    await cache.settled();
    expect(await servedVersion()).toBe('1');
    const failed = events.filter((e) => e.type === 'load_failed');
    expect(failed).toEqual([expect.objectContaining({ version: '2', cold: false })]);
    expect((failed[0] as { error: Error }).error).toBeInstanceOf(ModelUnavailableError);
    expect(runtime.loads).toEqual(['1']);
    expect(runtime.models.get('1')!.released).toBe(0);
    // The next check tries again, and a repaired package is swapped in.
    registry.tampered.clear();
    clock += REFRESH_MS;
    await servedVersion();
    await cache.settled();
    expect(await servedVersion()).toBe('2');
  });

  it('keeps serving the old version when the runtime cannot load the new one', async () => {
    runtime.failing.add('2');
    clock += REFRESH_MS;
    await servedVersion();
    await cache.settled();
    expect(await servedVersion()).toBe('1');
    expect(events.filter((e) => e.type === 'load_failed')).toHaveLength(1);
  });

  it('does not swap to a version on an undeployed tier', async () => {
    registry.add(manifest('3', { tier: 'gpu-large' }));
    registry.promote(NAME, '3');
    clock += REFRESH_MS;
    await servedVersion();
    await cache.settled();
    expect(await servedVersion()).toBe('1');
    const failed = events.find((e) => e.type === 'load_failed') as { error: Error } | undefined;
    expect(failed?.error).toBeInstanceOf(TierNotDeployedError);
  });

  it('keeps serving when the pointer cannot be read or names no version', async () => {
    registry.pointerError = new Error('registry table unreachable');
    clock += REFRESH_MS;
    await servedVersion();
    await cache.settled();
    expect(await servedVersion()).toBe('1');
    registry.pointerError = undefined;
    registry.production.clear();
    clock += REFRESH_MS;
    await servedVersion();
    await cache.settled();
    expect(await servedVersion()).toBe('1');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['check_failed', 'no_production']));
  });

  it('releases the old model only after the requests holding it finish', async () => {
    const inFlight = await cache.acquire(NAME);
    clock += REFRESH_MS;
    await servedVersion();
    await cache.settled();
    expect(await servedVersion()).toBe('2');
    const old = runtime.models.get('1')!;
    expect(old.released).toBe(0);
    // The request that began on version 1 finishes on version 1.
    await expect(inFlight.model.score(new Float32Array(engine.names.length), 1)).resolves.toHaveLength(1);
    inFlight.release();
    inFlight.release();
    await cache.settled();
    expect(old.released).toBe(1);
    expect(events.filter((e) => e.type === 'released')).toEqual([{ type: 'released', name: NAME, version: '1' }]);
  });

  it('close releases every model once its leases are back', async () => {
    const lease = await cache.acquire(NAME);
    const closing = cache.close();
    await flush();
    expect(runtime.models.get('1')!.released).toBe(0);
    lease.release();
    await closing;
    await cache.settled();
    expect(runtime.models.get('1')!.released).toBe(1);
    await expect(cache.acquire(NAME)).rejects.toBeInstanceOf(ModelUnavailableError);
  });
});

describe('ModelCache: leaseLoaded, the warm path without a promise', () => {
  it('leases nothing and loads nothing before the cold load, then what acquire leases', async () => {
    expect(cache.leaseLoaded(NAME)).toBeUndefined();
    expect(registry.pointerReads).toBe(0);
    expect(runtime.loads).toEqual([]);
    (await cache.acquire(NAME)).release();
    const lease = cache.leaseLoaded(NAME)!;
    expect(lease.manifest.version).toBe('1');
    expect(lease.model).toBe(runtime.models.get('1'));
    lease.release();
  });

  it('starts the production check as acquire does, and a leased model outlives its swap', async () => {
    (await cache.acquire(NAME)).release();
    registry.promote(NAME, '2');
    clock += REFRESH_MS;
    const held = cache.leaseLoaded(NAME)!;
    await cache.settled();
    expect(held.manifest.version).toBe('1');
    expect(await servedVersion()).toBe('2');
    expect(runtime.models.get('1')!.released).toBe(0);
    held.release();
    held.release();
    await cache.settled();
    expect(runtime.models.get('1')!.released).toBe(1);
  });

  it('throws once the cache is closed', async () => {
    (await cache.acquire(NAME)).release();
    await cache.close();
    expect(() => cache.leaseLoaded(NAME)).toThrow(ModelUnavailableError);
  });
});

describe('ModelCache: names from requests', () => {
  it('forgets the oldest failed names past a bound, so unknown names cannot grow it without limit', async () => {
    for (let i = 0; i < 300; i++) await expect(cache.acquire(`unknown-${i}` as ModelName)).rejects.toBeInstanceOf(ModelNotFoundError);
    const reads = registry.pointerReads;
    // A recent failure is still remembered (no registry read); the oldest was forgotten (read again).
    await expect(cache.acquire('unknown-299' as ModelName)).rejects.toBeInstanceOf(ModelNotFoundError);
    expect(registry.pointerReads).toBe(reads);
    await expect(cache.acquire('unknown-0' as ModelName)).rejects.toBeInstanceOf(ModelNotFoundError);
    expect(registry.pointerReads).toBe(reads + 1);
    expect(await servedVersion()).toBe('1');
  });
});
