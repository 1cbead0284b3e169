import { AliasTable } from './alias-table';
import type { Rng } from './prng';

// When people pay: a weekly rhythm in daily volume and a daily rhythm in local time, with a
// different shape on weekends (late start, busy afternoons, more late-night spending).

export const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Relative weight of each local hour, 00:00–23:00, Monday to Friday. */
const WEEKDAY_HOURS = [0.9, 0.5, 0.3, 0.2, 0.2, 0.4, 1.0, 2.2, 3.6, 4.4, 5.0, 5.6, 6.6, 6.4, 5.6, 5.3, 5.5, 6.2, 6.6, 6.0, 4.8, 3.6, 2.4, 1.5];
/** Relative weight of each local hour on Saturday and Sunday. */
const WEEKEND_HOURS = [1.6, 1.1, 0.7, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.2, 4.5, 5.6, 6.3, 6.4, 6.2, 6.0, 5.9, 6.0, 6.1, 5.6, 4.8, 3.9, 3.0, 2.1];
/** Relative daily volume by UTC weekday, Sunday first: Friday peaks, Sunday is quiet. */
const WEEKDAY_VOLUME = [0.82, 0.95, 0.97, 1.0, 1.03, 1.15, 1.08];
/** Weekend tickets run a little higher: restaurants, leisure, bigger shops. */
export const WEEKEND_AMOUNT_FACTOR = 1.08;

export function isWeekend(dayStartMs: number): boolean {
  const dow = new Date(dayStartMs).getUTCDay();
  return dow === 0 || dow === 6;
}

/** Samples a time of day in local milliseconds from an hourly profile. */
export class TimeOfDaySampler {
  private readonly hours: AliasTable;

  constructor(weights: readonly number[]) {
    this.hours = new AliasTable(weights);
  }

  sampleLocalMs(rng: Rng): number {
    return this.hours.sample(rng) * HOUR_MS + Math.floor(rng.next() * HOUR_MS);
  }
}

export const WEEKDAY_SAMPLER = new TimeOfDaySampler(WEEKDAY_HOURS);
export const WEEKEND_SAMPLER = new TimeOfDaySampler(WEEKEND_HOURS);

/**
 * A local time of day as an offset into the UTC day. The local day is folded onto the UTC day
 * (modulo 24 h) so every event of a generated day stays inside it and days can be streamed one
 * at a time; the price is that the weekend profile follows the UTC weekday, not the local one.
 */
export function localToUtcMsOfDay(localMs: number, utcOffsetMinutes: number): number {
  const utc = (localMs - utcOffsetMinutes * 60_000) % DAY_MS;
  return utc < 0 ? utc + DAY_MS : utc;
}

/** Relative volume of each day: weekly rhythm times a ±6% day-to-day wobble. */
export function dailyVolumeWeights(rng: Rng, startMs: number, days: number): number[] {
  const weights: number[] = [];
  for (let d = 0; d < days; d++) {
    const dow = new Date(startMs + d * DAY_MS).getUTCDay();
    weights.push(WEEKDAY_VOLUME[dow]! * rng.uniform(0.94, 1.06));
  }
  return weights;
}

/**
 * Splits `total` into integers proportional to `weights` that sum to exactly `total` (largest
 * remainder method; ties go to the earlier index, so the split is deterministic).
 */
export function allocateExactly(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const quotas = weights.map((w) => (sum > 0 ? (total * w) / sum : total / weights.length));
  const counts = quotas.map((q) => Math.floor(q));
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, i) => ({ i, r: q - Math.floor(q) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) counts[order[k]!.i]! += 1;
  return counts;
}
