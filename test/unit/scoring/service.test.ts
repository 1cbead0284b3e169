import { describe, expect, it } from 'vitest';
import { ModelCache } from '../../../lib/adapters/scoring/model-cache';
import { ScoringService, type ScoringServiceDeps } from '../../../lib/adapters/scoring/service';
import type { PredictionsRow } from '../../../lib/core/offline/tables';
import { PREDICTIONS_TABLE } from '../../../lib/core/offline/tables';
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

function setup(store: { getMany(pks: readonly string[]): Promise<Map<string, StoredEntity>> }, extra: Partial<ScoringServiceDeps> = {}) {
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
    ...extra,
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
    // Again with the model already loaded: the lease comes from leaseLoaded, and is returned too.
    await expect(service.score(body(), 'r4b')).rejects.toBe(failure);
    await cache.close();
    expect(runtime.models.get('1')!.released).toBe(1);
  });
});

describe('ScoringService: a lease and a read that both fail', () => {
  it('answers the lease’s error, and the read’s failure does not surface as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const readFailure = new ResourceError('fathom-online-store: throttled', 'fathom-online-store', true);
      // Nothing is promoted: the cold load fails after the read has already failed.
      const registry = new FakeRegistry().add(manifest('1'));
      const service = new ScoringService({
        scorer: new Scorer(engine),
        models: new ModelCache({ registry, router: new ModelRouter({ cpu: new FakeRuntime() }) }),
        store: { getMany: () => Promise.reject(readFailure) },
        defaultModel: NAME,
      });
      await expect(service.score(body(), 'r8')).rejects.toMatchObject({ code: 'model_not_found' });
      // Unhandled rejections are reported once the event loop turns.
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('ScoringService: the predictions log', () => {
  const at = new Date('2026-03-02T12:00:01.500Z');

  it('sends one predictions row per answer, with the vector scored', async () => {
    const sent: PredictionsRow[][] = [];
    const { service } = setup(
      { getMany: async () => new Map() },
      {
        now: () => at,
        predictions: {
          log: async (rows) => {
            sent.push([...rows]);
          },
        },
      },
    );
    const answer = await service.score(body(), 'r5');
    expect(sent).toHaveLength(1);
    const [row] = sent[0]!;
    expect(row).toMatchObject({
      request_id: 'r5',
      event_id: 'e1',
      entity_id: 'c1',
      model_name: NAME,
      model_version: '1',
      score: answer.score,
      decision: answer.flagged ? 'flagged' : 'passed',
      feature_set: answer.feature_set,
      event_time: '2026-03-02T12:00:00.000Z',
      scored_at: '2026-03-02T12:00:01.500Z',
    });
    // The cold-start vector of this event, in the engine's order: what the model was given.
    const expected = engine.vectorFor(undefined, { ...JSON.parse(body()).event, ts: Date.parse('2026-03-02T12:00:00Z') }, undefined);
    expect(row!.features).toEqual(expected);
    // It is a valid row of the table (NaN travels as null).
    expect(PREDICTIONS_TABLE.rowSchema.safeParse(row).success).toBe(true);
  });

  it('still answers when the log refuses the row, and hands the row to onPredictionNotLogged', async () => {
    const refused = new ResourceError('firehose stream p: 1 of 1 rows not accepted', 'p', true);
    const lost: [PredictionsRow, unknown][] = [];
    const { service } = setup(
      { getMany: async () => new Map() },
      { predictions: { log: async () => Promise.reject(refused) }, onPredictionNotLogged: (row, error) => lost.push([row, error]) },
    );
    const answer = await service.score(body(), 'r6');
    expect(answer.request_id).toBe('r6');
    expect(lost).toEqual([[expect.objectContaining({ request_id: 'r6', event_id: 'e1' }), refused]]);
  });

  it('fails the request with the log’s error when no onPredictionNotLogged is given', async () => {
    const refused = new ResourceError('firehose stream p: down', 'p', true);
    const { service } = setup({ getMany: async () => new Map() }, { predictions: { log: async () => Promise.reject(refused) } });
    await expect(service.score(body(), 'r7')).rejects.toBe(refused);
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
      predictionsDeliveryStream: undefined,
    });
    expect(readScoringEnv({ ...base, [ENV.predictionsDeliveryStream]: 'fathom-offline-predictions' }).predictionsDeliveryStream).toBe('fathom-offline-predictions');
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
