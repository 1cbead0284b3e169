import { describe, expect, it } from 'vitest';
import { ModelCache } from '../../../lib/adapters/scoring/model-cache';
import { ScoringService } from '../../../lib/adapters/scoring/service';
import { readScoringEnv } from '../../../lib/adapters/scoring-env';
import { ConfigError, ResourceError, ValidationError } from '../../../lib/core/errors';
import type { StoredEntity } from '../../../lib/core/pipeline/ports';
import { ENV } from '../../../lib/core/resources';
import { ModelRouter, Scorer } from '../../../lib/core/scoring';
import { FakeRegistry, FakeRuntime, NAME, engine, manifest } from './fakes';

const body = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    event: { event_id: 'e1', entity_id: 'c1', merchant_id: 'm1', amount: 10, currency: 'USD', mcc: 5411, country: 'US', channel: 'pos', event_time: '2026-03-02T12:00:00Z' },
    ...overrides,
  });

function setup(store: { getMany(pks: readonly string[]): Promise<Map<string, StoredEntity>> }) {
  const registry = new FakeRegistry().add(manifest('1'));
  registry.promote(NAME, '1');
  const runtime = new FakeRuntime();
  const cache = new ModelCache({ registry, router: new ModelRouter({ cpu: runtime }) });
  const reads: string[][] = [];
  const service = new ScoringService({
    scorer: new Scorer(engine),
    models: cache,
    store: { getMany: (pks) => (reads.push([...pks]), store.getMany(pks)) },
    defaultModel: NAME,
  });
  return { service, cache, runtime, reads };
}

describe('ScoringService', () => {
  it('reads the card and merchant in one call and scores with the default model', async () => {
    const { service, reads } = setup({ getMany: async () => new Map() });
    const answer = await service.score(body(), 'r1');
    expect(reads).toEqual([['card#c1', 'merchant#m1']]);
    expect(answer).toMatchObject({ request_id: 'r1', model: { name: NAME, version: '1' }, cold_start: true });
  });

  it('refuses bad input before any read', async () => {
    const { service, reads } = setup({ getMany: async () => new Map() });
    await expect(service.score(body({ model: 'X' }), 'r2')).rejects.toMatchObject({ field: 'model' });
    await expect(service.score('nope', 'r3')).rejects.toBeInstanceOf(ValidationError);
    expect(reads).toEqual([]);
  });

  it('returns the model lease when the store read fails, so a swapped-out model can still be released', async () => {
    const failure = new ResourceError('fathom-online-store: throttled', 'fathom-online-store', true);
    const { service, cache, runtime } = setup({ getMany: async () => Promise.reject(failure) });
    await expect(service.score(body(), 'r4')).rejects.toBe(failure);
    await cache.close();
    expect(runtime.models.get('1')!.released).toBe(1);
  });
});

describe('readScoringEnv', () => {
  const base = {
    [ENV.onlineStoreTable]: 'fathom-online-store',
    [ENV.modelRegistryTable]: 'fathom-model-registry',
    [ENV.modelBucket]: 'fathom-models',
    [ENV.modelSigningKey]: 'kms:arn:aws:kms:eu-west-1:123456789012:key/abc',
  };

  it('fills the documented defaults', () => {
    expect(readScoringEnv(base)).toEqual({
      tableName: 'fathom-online-store',
      registryTable: 'fathom-model-registry',
      modelBucket: 'fathom-models',
      signingKey: 'kms:arn:aws:kms:eu-west-1:123456789012:key/abc',
      defaultModel: 'card-fraud',
      refreshIntervalMs: 30_000,
      allowedLatenessMs: 300_000,
    });
  });

  it.each([
    [{ [ENV.modelSigningKey]: 'arn:aws:kms:eu-west-1:1:key/abc' }, ENV.modelSigningKey],
    [{ [ENV.modelRefreshSeconds]: '0' }, ENV.modelRefreshSeconds],
    [{ [ENV.defaultModelName]: 'Card_Fraud' }, ENV.defaultModelName],
    [{ [ENV.modelBucket]: '' }, ENV.modelBucket],
  ])('names the variable at fault: %j', (override, field) => {
    try {
      readScoringEnv({ ...base, ...override });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe(field);
    }
  });
});
