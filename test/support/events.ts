// Hand-built events for unit tests of the engine.
import type { TimedEvent } from '../../lib/core/schemas/event';
import { parseStreamEvent } from '../../lib/core/schemas/event';

let counter = 0;

export function ev(overrides: Partial<Record<string, unknown>> & { at: string | number }): TimedEvent {
  const { at, ...rest } = overrides;
  const event_time = typeof at === 'number' ? new Date(at).toISOString() : at;
  const raw = {
    event_id: `evt_${String(++counter).padStart(8, '0')}`,
    entity_id: 'card_1',
    merchant_id: 'mer_1',
    amount: 10,
    currency: 'USD',
    mcc: 5411,
    country: 'US',
    channel: 'pos',
    event_time,
    ...rest,
  };
  const r = parseStreamEvent(raw);
  if (!r.ok) throw r.error;
  return r.value;
}

/**
 * An arrival order in which every event is delivered before any event more than `latenessMs`
 * newer than it — the stream's lateness contract — with `dupRate` of events delivered twice.
 */
export function shuffleWithinLateness<T extends { ts: number }>(events: readonly T[], latenessMs: number, dupRate: number, seed: number): T[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const keyed: { k: number; e: T }[] = [];
  for (const e of events) {
    keyed.push({ k: e.ts + rnd() * latenessMs, e });
    if (rnd() < dupRate) keyed.push({ k: e.ts + rnd() * latenessMs, e });
  }
  keyed.sort((a, b) => a.k - b.k);
  return keyed.map((x) => x.e);
}
