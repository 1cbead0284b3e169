import { describe, expect, it } from 'vitest';
import { FeatureEngine, referenceFeatureSet, runBatch, IncrementalDriver, serializeCard, deserializeCard, HOUR_MS, DAY_MS, MINUTE_MS } from '../../lib/core/features';
import { ConfigError, ValidationError } from '../../lib/core/errors';
import { ev, shuffleWithinLateness } from '../support/events';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: 5 * MINUTE_MS });
const idx = (name: string) => {
  const i = engine.names.indexOf(name);
  if (i < 0) throw new Error(`no feature ${name}`);
  return i;
};
const lastVector = (d: { vectors: { values: number[] }[] }) => d.vectors[d.vectors.length - 1]!.values;

describe('feature engine: definitions', () => {
  it('compiles the reference set with unique names and a version', () => {
    expect(engine.names.length).toBe(referenceFeatureSet.features.length);
    expect(engine.version).toBe('card_fraud.v1');
    expect(engine.entityFeatureNames).toContain('card_txn_count_24h');
    expect(engine.entityFeatureNames).not.toContain('amount_usd');
  });

  it('rejects bad options and definitions naming the field', () => {
    expect(() => new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: 2 * HOUR_MS })).toThrow(ConfigError);
    try {
      new FeatureEngine({ ...referenceFeatureSet, features: [{ name: 'x', kind: 'card_window', window: 'nope', agg: 'sum' }] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe('features.x.window');
    }
  });
});

describe('feature engine: values', () => {
  it('computes window aggregates from the state before the event', () => {
    const events = [ev({ at: T0, amount: 10 }), ev({ at: T0 + 10 * MINUTE_MS, amount: 30 }), ev({ at: T0 + 20 * MINUTE_MS, amount: 5, merchant_id: 'mer_2' })];
    const b = runBatch(engine, events);
    const [v1, v2, v3] = b.vectors.map((v) => v.values);
    expect(v1![idx('card_txn_count_1h')]).toBe(0);
    expect(v1![idx('card_seconds_since_prev')]).toBe(-1);
    expect(v2![idx('card_txn_count_1h')]).toBe(1);
    expect(v2![idx('card_seconds_since_prev')]).toBe(600);
    expect(v3![idx('card_txn_count_1h')]).toBe(2);
    expect(v3![idx('card_amount_sum_1h')]).toBe(40);
    expect(v3![idx('card_amount_mean_1h')]).toBe(20);
    expect(v3![idx('card_amount_max_1h')]).toBe(30);
    expect(v3![idx('card_distinct_merchants_24h')]).toBe(1);
    expect(v3![idx('amount_usd')]).toBe(5);
    expect(v3![idx('card_new_merchant')]).toBe(1);
  });

  it('lets events fall out of the 1h window but stay in 24h and 7d', () => {
    const b = runBatch(engine, [ev({ at: T0, amount: 10 }), ev({ at: T0 + 2 * HOUR_MS, amount: 1 })]);
    const v = lastVector(b);
    expect(v[idx('card_txn_count_1h')]).toBe(0);
    expect(v[idx('card_txn_count_24h')]).toBe(1);
    expect(v[idx('card_txn_count_7d')]).toBe(1);
  });

  it('flags a foreign country against the most frequent one, and converts currencies', () => {
    const b = runBatch(engine, [ev({ at: T0 }), ev({ at: T0 + HOUR_MS }), ev({ at: T0 + 2 * HOUR_MS, country: 'FR', currency: 'EUR', amount: 100 })]);
    const v = lastVector(b);
    expect(v[idx('card_foreign_country')]).toBe(1);
    expect(v[idx('amount_usd')]).toBe(108);
  });

  it('scores an unusual amount with the 30-day z-score and ratio', () => {
    const hist = Array.from({ length: 20 }, (_, i) => ev({ at: T0 + i * DAY_MS, amount: 20 + (i % 3) }));
    const b = runBatch(engine, [...hist, ev({ at: T0 + 21 * DAY_MS, amount: 500 })]);
    const v = lastVector(b);
    expect(v[idx('card_amount_zscore_30d')]).toBeGreaterThan(100);
    expect(v[idx('card_amount_ratio_30d')]).toBeGreaterThan(20);
  });

  it('sees a merchant new to the card only outside the look-back, and merchant windows only after the lateness lag', () => {
    const events = [
      ev({ at: T0, merchant_id: 'mer_9', entity_id: 'card_a' }),
      ev({ at: T0 + 2 * DAY_MS, merchant_id: 'mer_9', entity_id: 'card_a' }),
      ev({ at: T0 + 2 * DAY_MS + 1000, merchant_id: 'mer_9', entity_id: 'card_b' }),
    ];
    const b = runBatch(engine, events);
    expect(b.vectors[1]!.values[idx('card_new_merchant')]).toBe(0);
    expect(b.vectors[2]!.values[idx('card_new_merchant')]).toBe(1);
    // The first event is two days old: its hour tile has closed, so the merchant count sees it;
    // the event of one second ago is inside the lateness lag and is not counted yet.
    expect(b.vectors[2]!.values[idx('merchant_txn_count_24h')]).toBe(0);
    const later = runBatch(engine, [...events, ev({ at: T0 + 2 * DAY_MS + 2 * HOUR_MS, merchant_id: 'mer_9', entity_id: 'card_c' })]);
    expect(lastVector(later)[idx('merchant_txn_count_24h')]).toBe(2);
    expect(lastVector(later)[idx('merchant_new_card_share_24h')]).toBeCloseTo(0.5);
  });
});

describe('feature engine: stream semantics', () => {
  it('ignores a duplicate event id: the state does not change', () => {
    const d = new IncrementalDriver(engine);
    const e = ev({ at: T0 });
    d.ingest(e);
    d.ingest(ev({ at: T0 + MINUTE_MS }));
    const before = serializeCard(engine, d.cards.get('card_1')!);
    expect(d.ingest(e)).toBe('duplicate');
    expect(serializeCard(engine, d.cards.get('card_1')!)).toBe(before);
  });

  it('takes a reused event id with another event time as a new event (a duplicate carries its original\'s time)', () => {
    const d = new IncrementalDriver(engine);
    const e = ev({ at: T0 });
    d.ingest(e);
    d.ingest(ev({ at: T0 + 2 * MINUTE_MS }));
    // Behind the newest event (the looked-up path) and ahead of it (the appended path).
    expect(d.ingest({ ...e, ts: T0 + MINUTE_MS })).toBe('accepted');
    expect(d.ingest({ ...e, ts: T0 + 3 * MINUTE_MS })).toBe('accepted');
    expect(d.ingest(e)).toBe('duplicate');
    expect(d.ingest({ ...e, ts: T0 + MINUTE_MS })).toBe('duplicate');
  });

  it('places a late event (past the reorder buffer, within the longest window) in the right windows', () => {
    const d = new IncrementalDriver(engine);
    d.ingest(ev({ at: T0, amount: 1 }));
    d.ingest(ev({ at: T0 + 3 * HOUR_MS, amount: 1 }));
    d.ingest(ev({ at: T0 + 6 * HOUR_MS, amount: 1 }));
    expect(d.ingest(ev({ at: T0 + 2 * HOUR_MS, amount: 100 }))).toBe('late');
    d.flush();
    const card = d.cards.get('card_1')!;
    const cur = engine.currentFeatures(card);
    expect(cur['card_txn_count_24h']).toBe(4);
    expect(cur['card_amount_max_24h']).toBe(100);
    expect(cur['card_txn_count_1h']).toBe(1);
    expect(d.counts.late).toBe(1);
    expect(d.vectors.find((v) => v.late)).toBeDefined();
  });

  it('counts and ignores an event older than the longest window', () => {
    const d = new IncrementalDriver(engine);
    d.ingest(ev({ at: T0 + 40 * DAY_MS }));
    const before = serializeCard(engine, d.cards.get('card_1')!);
    expect(d.ingest(ev({ at: T0 }))).toBe('too_late');
    expect(serializeCard(engine, d.cards.get('card_1')!)).toBe(before);
    expect(d.counts.too_late).toBe(1);
  });

  it('holds events inside the lateness horizon and logs them once the watermark passes', () => {
    const d = new IncrementalDriver(engine);
    d.ingest(ev({ at: T0 }));
    expect(d.vectors).toHaveLength(0);
    d.ingest(ev({ at: T0 + 10 * MINUTE_MS }));
    expect(d.vectors).toHaveLength(1);
    d.flush();
    expect(d.vectors).toHaveLength(2);
  });

  it('serves the same vector online as the stream later logs', () => {
    const events = Array.from({ length: 50 }, (_, i) => ev({ at: T0 + i * 7 * MINUTE_MS, amount: 5 + (i % 7), merchant_id: `mer_${i % 4}` }));
    const d = new IncrementalDriver(engine);
    const served = new Map<string, number[]>();
    for (const e of events) {
      served.set(e.event_id, engine.vectorFor(d.cards.get(e.entity_id), e, d.merchants.get(e.merchant_id)));
      d.ingest(e);
    }
    d.flush();
    for (const v of d.vectors) expect(v.values).toEqual(served.get(v.eventId));
  });

  it('serves the same vector from a consumed state as from a copy, and leaves an unconsumed state as it was', () => {
    // Events 2 minutes apart with 5 minutes of lateness: a stored state always has buffered events.
    const events = Array.from({ length: 120 }, (_, i) =>
      ev({ at: T0 + i * 2 * MINUTE_MS + (i % 3) * 20_000, amount: 3 + ((i * 37) % 90), entity_id: `card_${i % 3}`, merchant_id: `mer_${i % 5}`, country: i % 11 === 0 ? 'FR' : 'US' }),
    );
    const d = new IncrementalDriver(engine);
    let withPending = 0;
    for (const [i, e] of events.entries()) {
      const card = d.cards.get(e.entity_id);
      const merchant = d.merchants.get(e.merchant_id);
      if (card) {
        const text = serializeCard(engine, card);
        if (card.pending.length > 0) withPending++;
        // The request as it arrives, and one a little late (ordered before some buffered events).
        for (const request of [e, { ...e, ts: e.ts - 3 * MINUTE_MS }]) {
          const copied = engine.vectorFor(card, request, merchant);
          expect(serializeCard(engine, card)).toBe(text);
          expect(engine.vectorFor(deserializeCard(engine, text), request, merchant, { consume: true })).toEqual(copied);
        }
      }
      if (i % 2 === 0) d.ingest(e);
    }
    expect(withPending).toBeGreaterThan(30);
  });

  it('keeps a card with 10,000 events a week far below the 400 KB item limit', () => {
    const d = new IncrementalDriver(engine);
    const step = Math.floor((7 * DAY_MS) / 10_000);
    for (let i = 0; i < 10_000; i++) d.ingest(ev({ at: T0 + i * step, amount: 1 + (i % 50), merchant_id: `mer_${i % 300}`, country: i % 10 === 0 ? 'FR' : 'US' }));
    const bytes = Buffer.byteLength(serializeCard(engine, d.cards.get('card_1')!));
    expect(bytes).toBeLessThan(200_000);
  });

  it('round-trips a state through its JSON form and refuses a foreign feature-set version', () => {
    const d = new IncrementalDriver(engine);
    for (let i = 0; i < 30; i++) d.ingest(ev({ at: T0 + i * 3 * MINUTE_MS, merchant_id: `mer_${i % 3}` }));
    const text = serializeCard(engine, d.cards.get('card_1')!);
    expect(serializeCard(engine, deserializeCard(engine, text))).toBe(text);
    expect(() => deserializeCard(engine, text.replace('card_fraud.v1', 'card_fraud.v0'))).toThrow(ValidationError);
    expect(() => deserializeCard(engine, '{"v":1}')).toThrow(ValidationError);
  });

  it('matches the batch driver on a small shuffled history (the parity property in miniature)', () => {
    const events = Array.from({ length: 400 }, (_, i) =>
      ev({ at: T0 + i * 37_000, amount: (i * 7919) % 300, entity_id: `card_${i % 5}`, merchant_id: `mer_${i % 11}` }),
    );
    const b = runBatch(engine, events);
    const d = new IncrementalDriver(engine);
    for (const e of shuffleWithinLateness(events, engine.allowedLatenessMs, 0.05, 7)) d.ingest(e);
    d.flush();
    const key = (v: { eventId: string }) => v.eventId;
    expect([...d.vectors].sort((a, c) => (key(a) < key(c) ? -1 : 1))).toEqual([...b.vectors].sort((a, c) => (key(a) < key(c) ? -1 : 1)));
  });
});
