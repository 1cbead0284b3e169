import { describe, expect, it } from 'vitest';
import { FeatureEngine, referenceFeatureSet, runBatch, serializeCard, deserializeCard, MINUTE_MS } from '../../lib/core/features';
import { processFeatureBatch } from '../../lib/core/pipeline/feature-batch';
import { ResourceError } from '../../lib/core/errors';
import type { DeadLetter, DeadLetterPort, EntityVector, EntityWrite, OfflineLogPort, OnlineStorePort, PutOutcome, ReceivedEvent, StoredEntity, StreamRecord } from '../../lib/core/pipeline/ports';
import { ev } from '../support/events';
import { parseStreamEvent } from '../../lib/core/schemas/event';

const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: 5 * MINUTE_MS });
const T0 = Date.parse('2026-03-02T12:00:00.000Z');

/** An in-memory OnlineStorePort with the same conditional-write contract as DynamoDB. */
class MemoryStore implements OnlineStorePort {
  readonly items = new Map<string, StoredEntity>();
  getManyCalls: string[][] = [];
  puts: string[] = [];
  conflictOnce = new Set<string>();
  failAlways = new Set<string>();

  async getMany(pks: readonly string[]) {
    this.getManyCalls.push([...pks]);
    return new Map([...pks].flatMap((pk) => (this.items.has(pk) ? [[pk, this.items.get(pk)!] as const] : [])));
  }
  async get(pk: string) {
    return this.items.get(pk);
  }
  async put(item: EntityWrite, expected: number | null): Promise<PutOutcome> {
    this.puts.push(item.pk);
    if (this.failAlways.has(item.pk)) throw new ResourceError(`${item.pk} unavailable`, item.pk, true);
    const cur = this.items.get(item.pk);
    if (this.conflictOnce.delete(item.pk) && cur) {
      // Another writer bumped the version without changing the content.
      this.items.set(item.pk, { ...cur, version: cur.version + 1 });
      return 'conflict';
    }
    if ((cur?.version ?? null) !== expected) return 'conflict';
    this.items.set(item.pk, item);
    return 'written';
  }
}

class MemoryDlq implements DeadLetterPort {
  letters: DeadLetter[] = [];
  async send(l: readonly DeadLetter[]) {
    this.letters.push(...l);
  }
}

let seq = 1000;
const rec = (data: unknown, shardId = 'shardId-000000000000'): StreamRecord => ({ id: String(++seq), shardId, data: typeof data === 'string' ? data : JSON.stringify(data) });
const raw = (e: ReturnType<typeof ev>) => {
  const { ts: _ts, ...rest } = e;
  return rest;
};

describe('processFeatureBatch', () => {
  it('reads every entity once and writes each once, merchants before cards', async () => {
    const store = new MemoryStore();
    const events = Array.from({ length: 30 }, (_, i) => ev({ at: T0 + i * MINUTE_MS, entity_id: `card_${i % 3}`, merchant_id: `mer_${i % 2}` }));
    const r = await processFeatureBatch(events.map((e) => rec(raw(e))), { engine, store, deadLetters: new MemoryDlq() });
    expect(r.failed.size).toBe(0);
    expect(store.getManyCalls).toHaveLength(1);
    expect(new Set(store.getManyCalls[0]).size).toBe(5);
    expect(store.puts.slice(0, 2).every((pk) => pk.startsWith('merchant#'))).toBe(true);
    expect(store.puts).toHaveLength(5);
    expect(r.counts.applied).toBe(30);
  });

  it('sends malformed records to the dead-letter port with the field at fault, and processes the rest', async () => {
    const store = new MemoryStore();
    const dlq = new MemoryDlq();
    const good = ev({ at: T0 });
    const r = await processFeatureBatch([rec('not json'), rec({ ...raw(good), amount: 'ten' }), rec(raw(good)), rec([1, 2])], { engine, store, deadLetters: dlq });
    expect(r.failed.size).toBe(0);
    expect(r.counts.applied).toBe(1);
    expect(dlq.letters.map((l) => l.field)).toEqual(['(record)', 'amount', '(record)']);
    expect(dlq.letters[1]!.reason).toMatch(/amount/);
  });

  it('fails the malformed records (so they retry) when the dead-letter queue is down', async () => {
    const failing: DeadLetterPort = { send: async () => { throw new ResourceError('queue down', 'dlq', true); } };
    const bad = rec('{');
    const r = await processFeatureBatch([bad, rec(raw(ev({ at: T0 })))], { engine, store: new MemoryStore(), deadLetters: failing });
    expect([...r.failed.keys()]).toEqual([bad.id]);
  });

  it('retries a version conflict from the newer item and loses nothing', async () => {
    const store = new MemoryStore();
    const first = [ev({ at: T0 }), ev({ at: T0 + MINUTE_MS })];
    await processFeatureBatch(first.map((e) => rec(raw(e))), { engine, store, deadLetters: new MemoryDlq() });
    store.conflictOnce.add('card#card_1');
    store.conflictOnce.add('merchant#mer_1');
    const second = [ev({ at: T0 + 2 * MINUTE_MS }), ev({ at: T0 + 20 * MINUTE_MS })];
    const r = await processFeatureBatch(second.map((e) => rec(raw(e))), { engine, store, deadLetters: new MemoryDlq() });
    expect(r.failed.size).toBe(0);
    expect(r.counts.conflicts).toBe(2);
    const expected = runBatch(engine, [...first, ...second]).cards.get('card_1')!;
    const stored = deserializeCard(engine, store.items.get('card#card_1')!.state);
    engine.flush(stored);
    engine.flush(expected);
    expect(serializeCard(engine, stored)).toBe(serializeCard(engine, expected));
    expect(store.items.get('card#card_1')!.stats).toEqual({ applied: 4, duplicates: 0, late: 0, too_late: 0 });
  });

  it('does not write a card whose merchant failed, and a redelivery then counts every event exactly once', async () => {
    const store = new MemoryStore();
    const events = [ev({ at: T0, merchant_id: 'mer_a' }), ev({ at: T0 + MINUTE_MS, merchant_id: 'mer_b' })];
    const records = events.map((e) => rec(raw(e)));
    store.failAlways.add('merchant#mer_b');
    const r1 = await processFeatureBatch(records, { engine, store, deadLetters: new MemoryDlq() });
    expect(r1.failed.size).toBe(2);
    expect(store.items.has('card#card_1')).toBe(false);
    expect(store.items.has('merchant#mer_a')).toBe(true);
    store.failAlways.clear();
    const r2 = await processFeatureBatch(records, { engine, store, deadLetters: new MemoryDlq() });
    expect(r2.failed.size).toBe(0);
    const expected = runBatch(engine, events);
    for (const m of ['mer_a', 'mer_b']) {
      const stored = store.items.get(`merchant#${m}`)!;
      expect(JSON.parse(stored.state).t).toEqual(expected.merchants.get(m)!.tiles.map((t) => [t.i, t.n, t.c]));
    }
  });

  it('ignores a duplicate delivery of an event already applied', async () => {
    const store = new MemoryStore();
    const e = ev({ at: T0 });
    await processFeatureBatch([rec(raw(e))], { engine, store, deadLetters: new MemoryDlq() });
    const r = await processFeatureBatch([rec(raw(e))], { engine, store, deadLetters: new MemoryDlq() });
    expect(r.counts.duplicates).toBe(1);
    expect(store.items.get('card#card_1')!.stats!.applied).toBe(1);
    expect(JSON.parse(store.items.get('merchant#mer_1')!.state).t[0][1]).toBe(1);
  });
});

describe('processFeatureBatch: redelivery', () => {
  it('skips a redelivered record by sequence number even when its event is older than the dedupe horizon', async () => {
    const store = new MemoryStore();
    // One card, events 10 days apart: the first falls out of the 24 h id-dedupe horizon.
    const events = [ev({ at: T0 }), ev({ at: T0 + 10 * 86_400_000 })];
    const records = events.map((e) => rec(raw(e)));
    await processFeatureBatch(records, { engine, store, deadLetters: new MemoryDlq() });
    const before = store.items.get('card#card_1')!.state;
    const again = await processFeatureBatch(records, { engine, store, deadLetters: new MemoryDlq() });
    expect(again.counts.redelivered).toBe(2);
    expect(again.counts.applied).toBe(0);
    expect(store.items.get('card#card_1')!.state).toBe(before);
    expect(store.items.get('card#card_1')!.stats!.applied).toBe(2);
  });
});

describe('processFeatureBatch: dead letters on redelivery', () => {
  it('dead-letters a malformed record once, even when its batch is delivered again', async () => {
    const store = new MemoryStore();
    const dlq = new MemoryDlq();
    const records = [rec('{broken'), rec(raw(ev({ at: T0 }))), rec({ nope: 1 })];
    await processFeatureBatch(records, { engine, store, deadLetters: dlq });
    expect(dlq.letters).toHaveLength(2);
    const again = await processFeatureBatch(records, { engine, store, deadLetters: dlq });
    expect(dlq.letters).toHaveLength(2);
    expect(again.counts.redelivered).toBe(3);
    // A later malformed record on the same shard is still sent.
    await processFeatureBatch([rec('also broken')], { engine, store, deadLetters: dlq });
    expect(dlq.letters).toHaveLength(3);
  });
});

describe('processFeatureBatch: stream order within a batch', () => {
  it('logs the batch driver\'s vectors when a 500-record batch mixes many cards at shared merchants', async () => {
    const { generateWorkload } = await import('../../lib/core/generator');
    const events = [...generateWorkload({ seed: 11, events: 5_000, days: 3, merchants: 20 })].map((g) => {
      const r = parseStreamEvent(g.event);
      if (!r.ok) throw r.error;
      return r.value;
    });
    const store = new MemoryStore();
    const logged: { eventId: string; values: number[] }[] = [];
    for (let i = 0; i < events.length; i += 500) {
      const r = await processFeatureBatch(events.slice(i, i + 500).map((e) => rec(raw(e))), { engine, store, deadLetters: new MemoryDlq() });
      expect(r.failed.size).toBe(0);
      logged.push(...r.vectors);
    }
    const expected = new Map(runBatch(engine, events).vectors.map((v) => [v.eventId, v.values]));
    const differing = logged.filter((v) => JSON.stringify(v.values) !== JSON.stringify(expected.get(v.eventId)));
    expect(logged.length).toBeGreaterThan(3_500); // the rest are still in reorder buffers
    expect(differing).toHaveLength(0);
  });
});

describe('processFeatureBatch: offline log', () => {
  class MemoryOfflineLog implements OfflineLogPort {
    events: ReceivedEvent[] = [];
    vectors: EntityVector[] = [];
    failEvents = false;
    failFeatures = false;
    async logEvents(e: readonly ReceivedEvent[]) {
      if (this.failEvents) throw new ResourceError('events stream down', 'events', true);
      this.events.push(...e);
    }
    async logFeatures(v: readonly EntityVector[]) {
      if (this.failFeatures) throw new ResourceError('feature_log stream down', 'feature_log', true);
      this.vectors.push(...v);
    }
  }
  // Ten minutes apart, so the allowed lateness (5 min) commits all but the newest event of each card.
  const batch = () => Array.from({ length: 12 }, (_, i) => ev({ at: T0 + i * 10 * MINUTE_MS, entity_id: `card_${i % 2}`, merchant_id: 'mer_0' }));

  it('logs every valid event raw and every committed vector with its card', async () => {
    const offline = new MemoryOfflineLog();
    const events = batch();
    const records = [...events.map((e) => rec(raw(e))), rec('{nope')];
    const r = await processFeatureBatch(records, { engine, store: new MemoryStore(), deadLetters: new MemoryDlq(), offline });
    expect(offline.events.map((e) => e.event.event_id)).toEqual(events.map((e) => e.event_id));
    expect(offline.events[0]!.data).toBe(records[0]!.data);
    expect(offline.vectors).toEqual(r.vectors);
    expect(offline.vectors.length).toBeGreaterThan(0);
  });

  it('fails the whole batch before any state is written when raw events cannot be logged', async () => {
    const store = new MemoryStore();
    const offline = Object.assign(new MemoryOfflineLog(), { failEvents: true });
    await expect(processFeatureBatch(batch().map((e) => rec(raw(e))), { engine, store, deadLetters: new MemoryDlq(), offline })).rejects.toThrow(/events stream down/);
    expect(store.puts).toEqual([]);
  });

  it('dead-letters the vectors of written cards when feature_log refuses them, instead of losing them', async () => {
    const dlq = new MemoryDlq();
    const offline = Object.assign(new MemoryOfflineLog(), { failFeatures: true });
    const r = await processFeatureBatch(batch().map((e) => rec(raw(e))), { engine, store: new MemoryStore(), deadLetters: dlq, offline });
    expect(r.failed.size).toBe(0);
    expect(dlq.letters.every((l) => l.field === 'feature_log' && /feature_log delivery failed/.test(l.reason))).toBe(true);
    const parked = dlq.letters.flatMap((l) => JSON.parse(l.data) as EntityVector[]);
    expect(parked.map((v) => v.eventId)).toEqual(r.vectors.map((v) => v.eventId));
  });
});
