// Principle 1 of DESIGN.md, proved: the stream's incremental driver, fed 100k generated events
// out of order (within the allowed lateness) and with duplicate deliveries, logs the same vectors
// and ends in the same entity states as the batch driver over the sorted history — bit for bit.
import { describe, expect, it } from 'vitest';
import { FeatureEngine, referenceFeatureSet, runBatch, IncrementalDriver, serializeCard, serializeMerchant, MINUTE_MS } from '../../lib/core/features';
import { generateWorkload } from '../../lib/core/generator';
import { parseStreamEvent, type TimedEvent } from '../../lib/core/schemas/event';
import { shuffleWithinLateness } from '../support/events';

const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: 5 * MINUTE_MS });

function generated(n: number, seed: number): TimedEvent[] {
  const out: TimedEvent[] = [];
  for (const g of generateWorkload({ seed, events: n, days: 14 })) {
    const r = parseStreamEvent(g.event);
    if (!r.ok) throw r.error;
    out.push(r.value);
  }
  return out;
}

const byEvent = (a: { eventId: string }, b: { eventId: string }) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
/** Bit-for-bit: compare the IEEE-754 bytes, so -0 vs 0 or NaN payloads would show. */
const bits = (values: number[]) => Buffer.from(Float64Array.from(values).buffer).toString('hex');

describe('stream/batch parity', () => {
  it('gives identical vectors and final states for 100k shuffled, duplicated events', () => {
    const events = generated(100_000, 42);
    const batch = runBatch(engine, events);

    const arrival = shuffleWithinLateness(events, engine.allowedLatenessMs, 0.02, 99);
    // The shuffle is real: a good share of events arrive after a later one of the same card.
    let outOfOrder = 0;
    const lastSeen = new Map<string, number>();
    for (const e of arrival) {
      if ((lastSeen.get(e.entity_id) ?? -Infinity) > e.ts) outOfOrder++;
      lastSeen.set(e.entity_id, Math.max(lastSeen.get(e.entity_id) ?? -Infinity, e.ts));
    }
    expect(arrival.length).toBeGreaterThan(101_000);
    expect(outOfOrder).toBeGreaterThan(50);

    const inc = new IncrementalDriver(engine);
    for (const e of arrival) inc.ingest(e);
    inc.flush();

    expect(inc.counts.duplicate).toBe(arrival.length - events.length);
    expect(inc.counts.late).toBe(0);
    expect(inc.counts.too_late).toBe(0);
    expect(inc.vectors).toHaveLength(batch.vectors.length);

    const a = [...inc.vectors].sort(byEvent);
    const b = [...batch.vectors].sort(byEvent);
    let mismatches = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i]!.eventId !== b[i]!.eventId || bits(a[i]!.values) !== bits(b[i]!.values)) mismatches++;
    }
    expect(mismatches).toBe(0);

    expect(inc.cards.size).toBe(batch.cards.size);
    for (const [id, card] of batch.cards) expect(serializeCard(engine, inc.cards.get(id)!)).toBe(serializeCard(engine, card));
    for (const [id, m] of batch.merchants) expect(serializeMerchant(engine, inc.merchants.get(id)!)).toBe(serializeMerchant(engine, m));
  });

  it('ingestAll (card halves by card, then merchant halves) equals ingest() event by event: statuses, vectors in order, states', () => {
    const events = generated(60_000, 7);
    // Shuffled within the lateness, 2% duplicates, and some events well past it (late path).
    const arrival = shuffleWithinLateness(events, engine.allowedLatenessMs, 0.02, 5);
    for (let i = 0; i + 500 < arrival.length; i += 211) arrival.splice(i + 500, 0, ...arrival.splice(i, 1));
    const one = new IncrementalDriver(engine);
    for (const e of arrival) one.ingest(e);
    one.flush();
    const all = new IncrementalDriver(engine);
    all.ingestAll(arrival);
    all.flush();

    expect(one.counts.late).toBeGreaterThan(10);
    expect(one.counts.duplicate).toBeGreaterThan(100);
    expect(all.counts).toEqual(one.counts);
    const line = (v: (typeof one.vectors)[number]) => `${v.entityId} ${v.eventId} ${v.late} ${bits(v.values)}`;
    expect(all.vectors).toHaveLength(one.vectors.length);
    // The first difference, if any (a diff of two 60k-line lists would take vitest minutes).
    const first = one.vectors.findIndex((v, i) => line(v) !== line(all.vectors[i]!));
    expect(first === -1 ? 'identical' : `vector ${first}: ${line(all.vectors[first]!)} vs ${line(one.vectors[first]!)}`).toBe('identical');
    expect([...all.cards.keys()]).toEqual([...one.cards.keys()]);
    expect([...all.merchants.keys()]).toEqual([...one.merchants.keys()]);
    for (const [id, card] of one.cards) expect(serializeCard(engine, all.cards.get(id)!)).toBe(serializeCard(engine, card));
    for (const [id, m] of one.merchants) expect(serializeMerchant(engine, all.merchants.get(id)!)).toBe(serializeMerchant(engine, m));
  });

  it('detects a difference: disorder beyond the allowed lateness breaks exactness', () => {
    const events = generated(5_000, 7);
    const batch = runBatch(engine, events);
    const inc = new IncrementalDriver(engine);
    for (const e of shuffleWithinLateness(events, 6 * 60 * MINUTE_MS, 0, 3)) inc.ingest(e);
    inc.flush();
    const a = [...inc.vectors].sort(byEvent);
    const b = [...batch.vectors].sort(byEvent);
    expect(a.some((v, i) => bits(v.values) !== bits(b[i]!.values))).toBe(true);
  });
});
