import { eventId } from '../ids';
import type { Event } from '../schemas/event';
import { AliasTable } from './alias-table';
import type { DayContext } from './day-context';
import { FRAUD_PATTERN_SPECS, meanIncidentSize } from './fraud-patterns';
import { legitEvent } from './legit-traffic';
import { resolveWorkloadOptions, type FraudMix, type ResolvedWorkloadOptions, type WorkloadOptions } from './options';
import { createPopulation, type Population } from './population';
import { Rng, deriveSeed } from './prng';
import { CATEGORIES, COUNTRIES } from './reference-data';
import { DAY_MS, allocateExactly, dailyVolumeWeights, isWeekend } from './rhythm';
import { FRAUD_PATTERNS, type DraftEvent, type FraudPattern, type GeneratedEvent } from './types';

// The workload, one UTC day at a time: draw the day's fraud incidents and its legitimate traffic,
// sort the day by time, number the events, hand them out. Memory is one day's events (plus the
// few fraud events an incident carries into the next day), never the whole stream.
//
// Every day draws from its own random stream, derived from (seed, day), so a day's content does
// not depend on how many draws earlier days made: with drift from day D, days before D are
// byte-identical to the undrifted workload.

const STREAM_POPULATION = 1;
const STREAM_VOLUME = 2;
const STREAM_DAY = 3;

/**
 * The seeded workload as a lazy stream: exactly `events` events, sorted by event_time (ties in
 * event_id order), ids `evt_00000001` upwards. Options are checked now (ConfigError), not on the
 * first read.
 */
export function generateWorkload(options: WorkloadOptions): Iterable<GeneratedEvent> {
  const resolved = resolveWorkloadOptions(options);
  return { [Symbol.iterator]: () => streamWorkload(resolved) };
}

/** Chooses patterns so that each one's share of fraud *events* (not incidents) follows the mix. */
function patternTable(mix: FraudMix): AliasTable {
  return new AliasTable(FRAUD_PATTERNS.map((p) => mix[p] / meanIncidentSize(p)));
}

interface Incident {
  readonly pattern: FraudPattern;
  readonly size: number;
}

function drawIncident(rng: Rng, patterns: AliasTable): Incident {
  const pattern = FRAUD_PATTERNS[patterns.sample(rng)]!;
  const spec = FRAUD_PATTERN_SPECS[pattern];
  return { pattern, size: rng.intBetween(spec.minSize, spec.maxSize) };
}

function* streamWorkload(o: ResolvedWorkloadOptions): Generator<GeneratedEvent, void, undefined> {
  const population = createPopulation(new Rng(deriveSeed(o.seed, STREAM_POPULATION)), o.cards, o.merchants);
  const counts = allocateExactly(o.events, dailyVolumeWeights(new Rng(deriveSeed(o.seed, STREAM_VOLUME)), o.startMs, o.days));
  const baseMix = patternTable(o.fraudMix);
  const driftMix = patternTable(o.driftFraudMix);
  const idWidth = Math.max(8, String(o.events).length);
  /** Fraud events of incidents that ran past midnight, by the day they fall on. */
  const carried = new Map<number, DraftEvent[]>();
  /** Fraud events owed to reach the target rate; incidents pay it off in whole bursts. */
  let fraudDebt = 0;
  let nextId = 1;
  let next: Incident | undefined;

  for (let day = 0; day < o.days; day++) {
    const dayStartMs = o.startMs + day * DAY_MS;
    const drifted = o.driftFromDay !== undefined && day >= o.driftFromDay;
    const ctx: DayContext = {
      rng: new Rng(deriveSeed(o.seed, STREAM_DAY, day)),
      population,
      dayStartMs,
      weekend: isWeekend(dayStartMs),
      amountFactor: drifted ? o.driftAmountFactor : 1,
    };
    const count = counts[day]!;
    let fraud = carried.get(day) ?? [];
    carried.delete(day);

    fraudDebt += count * o.fraudRate;
    const patterns = drifted ? driftMix : baseMix;
    for (;;) {
      next ??= drawIncident(ctx.rng, patterns);
      // Rounding to the nearest whole incident keeps the long-run rate on target. An incident
      // too big for today's debt waits for a later day rather than being redrawn: redrawing
      // would favour the small patterns and skew the mix.
      if (fraudDebt < next.size / 2) break;
      fraudDebt -= next.size;
      for (const draft of FRAUD_PATTERN_SPECS[next.pattern].generate(ctx, next.size)) {
        const on = Math.floor((draft.ts - o.startMs) / DAY_MS);
        if (on === day) fraud.push(draft);
        else if (on < o.days) {
          const later = carried.get(on);
          if (later) later.push(draft);
          else carried.set(on, [draft]);
        }
      }
      next = undefined;
    }
    // A day's count is fixed by the volume plan; in a tiny workload a burst may not fit.
    if (fraud.length > count) fraud = fraud.sort(byTime).slice(0, count);

    // Legitimate traffic fills the rest of the day's planned count.
    const drafts = fraud;
    while (drafts.length < count) drafts.push(legitEvent(ctx));
    // Array.prototype.sort is stable: events at the same millisecond keep their draw order.
    drafts.sort(byTime);
    for (const draft of drafts) yield toGenerated(draft, population, `evt_${String(nextId++).padStart(idWidth, '0')}`);
  }
}

const byTime = (a: DraftEvent, b: DraftEvent): number => a.ts - b.ts;

function toGenerated(draft: DraftEvent, population: Population, id: string): GeneratedEvent {
  const card = population.cards[draft.card]!;
  const merchant = population.merchants[draft.merchant]!;
  const country = COUNTRIES[merchant.country]!;
  const event: Event = {
    event_id: eventId(id),
    entity_id: card.id,
    merchant_id: merchant.id,
    amount: draft.amount,
    currency: country.currency,
    mcc: CATEGORIES[merchant.category]!.mcc,
    country: country.code,
    channel: draft.channel,
    event_time: new Date(draft.ts).toISOString(),
  };
  return {
    event,
    label: draft.pattern === null ? 0 : 1,
    fraud_pattern: draft.pattern,
    label_available_at: new Date(draft.labelAt).toISOString(),
  };
}
