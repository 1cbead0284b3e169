import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/core/errors';
import {
  COUNTRY_BY_CODE,
  LEGIT_MATURITY_DAYS,
  generateWorkload,
  resolveWorkloadOptions,
  toUsd,
  type GeneratedEvent,
  type WorkloadOptions,
} from '../../lib/core/generator';
import { EventSchema } from '../../lib/core/schemas/event';

const DAY_MS = 86_400_000;
const START_MS = Date.parse('2026-01-01T00:00:00.000Z');

const cache = new Map<string, GeneratedEvent[]>();
/** Each workload is generated once per file: several tests look at the same one. */
function workload(options: WorkloadOptions): GeneratedEvent[] {
  const key = JSON.stringify(options);
  let items = cache.get(key);
  if (!items) {
    items = [...generateWorkload(options)];
    cache.set(key, items);
  }
  return items;
}

const BASE: WorkloadOptions = { seed: 7, events: 60_000, days: 14 };

function digest(items: Iterable<GeneratedEvent>): string {
  const hash = createHash('sha256');
  for (const item of items) hash.update(`${JSON.stringify(item)}\n`);
  return hash.digest('hex');
}

const usd = (item: GeneratedEvent): number => toUsd(item.event.amount, COUNTRY_BY_CODE.get(item.event.country)!);
const ts = (item: GeneratedEvent): number => Date.parse(item.event.event_time);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

function groupBy<K>(items: GeneratedEvent[], key: (item: GeneratedEvent) => K): Map<K, GeneratedEvent[]> {
  const groups = new Map<K, GeneratedEvent[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

describe('generateWorkload: determinism and shape', () => {
  it('gives byte-identical output for the same seed and options, different output for another seed', () => {
    const options: WorkloadOptions = { seed: 123, events: 20_000, days: 7 };
    expect(digest(generateWorkload(options))).toBe(digest(generateWorkload(options)));
    expect(digest(generateWorkload({ ...options, seed: 124 }))).not.toBe(digest(generateWorkload(options)));
  });

  it('can be iterated again from the start, with the same result', () => {
    const stream = generateWorkload({ seed: 5, events: 2_000, days: 3 });
    expect(digest(stream)).toBe(digest(stream));
  });

  it.each([
    [0, 1],
    [1, 1],
    [7, 30],
    [1_234, 3],
    [25_001, 10],
  ])('produces exactly %i events over %i days', (events, days) => {
    const items = [...generateWorkload({ seed: 1, events, days })];
    expect(items).toHaveLength(events);
    expect(new Set(items.map((i) => i.event.event_id)).size).toBe(events);
  });

  it('emits events sorted by event_time with consecutive ids, inside the requested days', () => {
    const items = workload(BASE);
    items.forEach((item, i) => {
      expect(item.event.event_id).toBe(`evt_${String(i + 1).padStart(8, '0')}`);
      if (i > 0) expect(item.event.event_time >= items[i - 1]!.event.event_time).toBe(true);
    });
    expect(ts(items[0]!)).toBeGreaterThanOrEqual(START_MS);
    expect(ts(items.at(-1)!)).toBeLessThan(START_MS + 14 * DAY_MS);
  });

  it('emits events that all pass the strict Event schema, with well-formed ids', () => {
    for (const { event } of workload(BASE)) {
      const parsed = EventSchema.safeParse(event);
      if (!parsed.success) throw new Error(`${event.event_id}: ${parsed.error.message}`);
      expect(event.entity_id).toMatch(/^card_\d{6}$/);
      expect(event.merchant_id).toMatch(/^mer_\d{5}$/);
    }
  });

  it('keeps each merchant in one country, category and currency', () => {
    const byMerchant = groupBy(workload(BASE), (i) => i.event.merchant_id);
    for (const items of byMerchant.values()) {
      const { country, currency, mcc } = items[0]!.event;
      expect(COUNTRY_BY_CODE.get(country)!.currency).toBe(currency);
      for (const { event } of items) expect([event.country, event.currency, event.mcc]).toEqual([country, currency, mcc]);
    }
  });
});

describe('generateWorkload: rhythms', () => {
  it('is quieter at night than in the afternoon, in local time', () => {
    // US card-present payments: the shop's clock is UTC-5.
    const localHours = workload(BASE)
      .filter((i) => i.event.country === 'US' && i.event.channel === 'pos' && i.label === 0)
      .map((i) => (new Date(ts(i)).getUTCHours() + 24 - 5) % 24);
    const at = (h: number) => localHours.filter((x) => x === h).length;
    expect(at(3) * 5).toBeLessThan(at(15));
  });

  it('has a weekly rhythm: Sunday is quieter than Friday', () => {
    // 2026-01-02 is a Friday, 2026-01-04 a Sunday; the same weeks again a week later.
    const perDay = groupBy(workload(BASE), (i) => Math.floor((ts(i) - START_MS) / DAY_MS));
    for (const [friday, sunday] of [[1, 3], [8, 10]] as const) {
      expect(perDay.get(sunday)!.length).toBeLessThan(perDay.get(friday)!.length * 0.85);
    }
  });
});

describe('generateWorkload: fraud', () => {
  const items = workload(BASE);
  const legit = items.filter((i) => i.label === 0);
  const byPattern = groupBy(
    items.filter((i) => i.label === 1),
    (i) => i.fraud_pattern,
  );

  it('has an overall fraud rate between 0.5% and 2%, with all three patterns', () => {
    const rate = (items.length - legit.length) / items.length;
    expect(rate).toBeGreaterThan(0.005);
    expect(rate).toBeLessThan(0.02);
    expect([...byPattern.keys()].sort()).toEqual(['account_takeover', 'card_testing', 'compromised_merchant']);
    for (const item of items) expect(item.fraud_pattern === null).toBe(item.label === 0);
  });

  it('card testing: bursts of tiny card-not-present payments at many merchants within minutes', () => {
    const testing = byPattern.get('card_testing')!;
    for (const item of testing) {
      expect(usd(item)).toBeLessThan(10);
      expect(['ecom', 'moto']).toContain(item.event.channel);
    }
    const bursts = [...groupBy(testing, (i) => i.event.entity_id).values()].flatMap((events) => {
      // One card can be tested twice in a fortnight; a gap of an hour separates bursts.
      const split: GeneratedEvent[][] = [[]];
      for (const e of events) {
        const current = split.at(-1)!;
        if (current.length > 0 && ts(e) - ts(current.at(-1)!) > 3_600_000) split.push([e]);
        else current.push(e);
      }
      return split;
    });
    expect(median(bursts.map((b) => b.length))).toBeGreaterThanOrEqual(6);
    for (const burst of bursts) {
      expect(ts(burst.at(-1)!) - ts(burst[0]!)).toBeLessThanOrEqual(15 * 60_000);
      expect(new Set(burst.map((e) => e.event.merchant_id)).size).toBeGreaterThanOrEqual(burst.length * 0.6);
    }
  });

  it('account takeover: a spree abroad at many times the legitimate ticket', () => {
    const homeOf = new Map([...groupBy(legit, (i) => i.event.entity_id)].map(([card, events]) => {
      const counts = groupBy(events, (e) => e.event.country);
      return [card, [...counts].sort((a, b) => b[1].length - a[1].length)[0]![0]];
    }));
    const takeover = byPattern.get('account_takeover')!;
    const abroad = takeover.filter((i) => homeOf.has(i.event.entity_id) && homeOf.get(i.event.entity_id) !== i.event.country);
    expect(abroad.length).toBeGreaterThan(takeover.length * 0.85);
    expect(median(takeover.map(usd))).toBeGreaterThan(5 * median(legit.map(usd)));
    // One spree happens in one country within hours (a card may be taken over twice in a fortnight).
    const sprees = groupBy(takeover, (i) => `${i.event.entity_id}/${Math.floor(ts(i) / (12 * 3_600_000))}`);
    const singleCountry = [...sprees.values()].filter((events) => new Set(events.map((e) => e.event.country)).size === 1);
    expect(singleCountry.length).toBeGreaterThan(sprees.size * 0.9);
  });

  it('compromised merchant: many cards new to the merchant, unusual amounts, in a window', () => {
    const compromised = byPattern.get('compromised_merchant')!;
    const seenBefore = new Set<string>();
    let firstSeen = 0;
    for (const item of items) {
      const key = `${item.event.merchant_id}/${item.event.entity_id}`;
      if (item.fraud_pattern === 'compromised_merchant' && !seenBefore.has(key)) firstSeen++;
      seenBefore.add(key);
    }
    expect(firstSeen).toBeGreaterThan(compromised.length * 0.9);
    expect(median(compromised.map(usd))).toBeGreaterThan(3 * median(legit.map(usd)));
    for (const events of groupBy(compromised, (i) => i.event.merchant_id).values()) {
      expect(events.length).toBeGreaterThanOrEqual(3);
    }
  });

  it('labels arrive after the event: legitimate ones at maturity, fraud within hours to weeks', () => {
    for (const item of items) {
      const delay = Date.parse(item.label_available_at) - ts(item);
      if (item.label === 0) expect(delay).toBe(LEGIT_MATURITY_DAYS * DAY_MS);
      else {
        expect(delay).toBeGreaterThanOrEqual(3_600_000);
        expect(delay).toBeLessThan(LEGIT_MATURITY_DAYS * DAY_MS);
      }
    }
    const fraudDelays = items.filter((i) => i.label === 1).map((i) => Date.parse(i.label_available_at) - ts(i));
    expect(fraudDelays.some((d) => d < DAY_MS)).toBe(true);
    expect(fraudDelays.some((d) => d > 7 * DAY_MS)).toBe(true);
  });
});

describe('generateWorkload: drift', () => {
  const D = 7;
  const plain = workload(BASE);
  const drifted = workload({ ...BASE, driftFromDay: D });
  const boundary = START_MS + D * DAY_MS;
  const before = (items: GeneratedEvent[]) => items.filter((i) => ts(i) < boundary);
  const after = (items: GeneratedEvent[]) => items.filter((i) => ts(i) >= boundary);

  it('leaves every event before the drift day byte-identical', () => {
    expect(before(drifted).length).toBeGreaterThan(0);
    expect(digest(before(drifted))).toBe(digest(before(plain)));
  });

  it('raises amounts by about 30% from the drift day on', () => {
    const legitUsd = (items: GeneratedEvent[]) => mean(items.filter((i) => i.label === 0).map(usd));
    const ratio = legitUsd(after(drifted)) / legitUsd(after(plain));
    expect(ratio).toBeGreaterThan(1.2);
    expect(ratio).toBeLessThan(1.4);
  });

  it('shifts the fraud mix from card testing to account takeover', () => {
    // A high fraud rate gives enough incidents after the drift day for shares to be stable.
    const options: WorkloadOptions = { ...BASE, events: 40_000, fraudRate: 0.08 };
    const plain = workload(options);
    const drifted = workload({ ...options, driftFromDay: D });
    // Default mix: takeover:testing = 0.30:0.45; drifted 0.60:0.15, six times higher.
    const takeoverPerTesting = (items: GeneratedEvent[]) =>
      items.filter((i) => i.fraud_pattern === 'account_takeover').length / items.filter((i) => i.fraud_pattern === 'card_testing').length;
    expect(takeoverPerTesting(after(drifted))).toBeGreaterThan(3 * takeoverPerTesting(after(plain)));
    expect(takeoverPerTesting(before(drifted))).toBe(takeoverPerTesting(before(plain)));
  });
});

describe('resolveWorkloadOptions', () => {
  it('fills documented defaults', () => {
    const resolved = resolveWorkloadOptions({ seed: 1, events: 45_000 });
    expect(resolved).toMatchObject({ days: 30, start: '2026-01-01T00:00:00.000Z', cards: 1000, fraudRate: 0.01, driftFromDay: undefined });
    expect(resolved.merchants).toBeGreaterThanOrEqual(14);
  });

  it.each([
    [{ seed: -1, events: 10 }, 'seed'],
    [{ seed: 1.5, events: 10 }, 'seed'],
    [{ seed: 1, events: -3 }, 'events'],
    [{ seed: 1, events: 10, days: 0 }, 'days'],
    [{ seed: 1, events: 10, days: 5, driftFromDay: 5 }, 'driftFromDay'],
    [{ seed: 1, events: 10, start: '2026-01-01T06:00:00Z' }, 'start'],
    [{ seed: 1, events: 10, start: 'yesterday' }, 'start'],
    [{ seed: 1, events: 10, merchants: 3 }, 'merchants'],
    [{ seed: 1, events: 10, fraudRate: 0.9 }, 'fraudRate'],
    [{ seed: 1, events: 10, fraudMix: { card_testing: 0 } }, 'fraudMix'],
  ] as [WorkloadOptions, string][])('rejects %j naming %s', (options, field) => {
    expect(() => generateWorkload(options)).toThrow(ConfigError);
    try {
      resolveWorkloadOptions(options);
    } catch (error) {
      expect((error as ConfigError).field).toBe(field);
    }
  });
});
