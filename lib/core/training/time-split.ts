// Time-based splits: the model is judged on rows later than any it learned from, as it will be in
// production. Rows are ordered by event time and cut into three consecutive spans; nothing is
// shuffled across time, and rows sharing one timestamp never straddle a cut.
import { ConfigError } from '../errors';
import type { TrainingMatrix } from './matrix';

export interface TimeSplitOptions {
  /** Share of rows, just before the holdout, used for early stopping (default 0.15). */
  readonly validation?: number;
  /** Share of the latest rows kept for the final evaluation (default 0.15). */
  readonly holdout?: number;
}

export interface TimeSplit {
  readonly train: TrainingMatrix;
  readonly validation: TrainingMatrix;
  readonly holdout: TrainingMatrix;
  /** First event time of the validation span (epoch ms), null when it is empty. */
  readonly validationFrom: number | null;
  /** First event time of the holdout span (epoch ms), null when it is empty. */
  readonly holdoutFrom: number | null;
}

export const DEFAULT_VALIDATION_FRACTION = 0.15;
export const DEFAULT_HOLDOUT_FRACTION = 0.15;

function fraction(field: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value >= 1) throw new ConfigError(`${field} must be a number in [0, 1) (got ${value})`, field);
  return value;
}

/** Rows [from, to) of an event-time-ordered matrix; views when `order` is the identity. */
function slice(m: TrainingMatrix, order: Uint32Array | undefined, from: number, to: number): TrainingMatrix {
  const f = m.features.length;
  if (!order) {
    return {
      features: m.features,
      rows: to - from,
      x: m.x.subarray(from * f, to * f),
      label: m.label.subarray(from, to),
      eventTime: m.eventTime.subarray(from, to),
      ...(m.eventIds ? { eventIds: m.eventIds.slice(from, to) } : {}),
    };
  }
  const n = to - from;
  const x = new Float32Array(n * f);
  const label = new Uint8Array(n);
  const eventTime = new Float64Array(n);
  const ids: string[] | undefined = m.eventIds ? [] : undefined;
  for (let i = 0; i < n; i++) {
    const r = order[from + i]!;
    x.set(m.x.subarray(r * f, (r + 1) * f), i * f);
    label[i] = m.label[r]!;
    eventTime[i] = m.eventTime[r]!;
    ids?.push(m.eventIds![r]!);
  }
  return { features: m.features, rows: n, x, label, eventTime, ...(ids ? { eventIds: ids } : {}) };
}

/**
 * Splits by event time into train (earliest), validation, holdout (latest). A cut that would fall
 * inside a run of equal timestamps moves past it, so every training row is strictly earlier than
 * every validation row, and every validation row strictly earlier than every holdout row.
 */
export function splitByTime(m: TrainingMatrix, options: TimeSplitOptions = {}): TimeSplit {
  const validation = fraction('validation', options.validation ?? DEFAULT_VALIDATION_FRACTION);
  const holdout = fraction('holdout', options.holdout ?? DEFAULT_HOLDOUT_FRACTION);
  if (validation + holdout >= 1) throw new ConfigError(`validation + holdout must be below 1 (got ${validation + holdout})`, 'holdout');
  const n = m.rows;
  const t = m.eventTime;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) sorted = t[i - 1]! <= t[i]!;
  let order: Uint32Array | undefined;
  if (!sorted) {
    // Ties keep their input order: the sort is stable.
    order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => t[a]! - t[b]! || a - b);
  }
  const time = (i: number): number => t[order ? order[i]! : i]!;
  const pastTies = (cut: number): number => {
    while (cut > 0 && cut < n && time(cut) === time(cut - 1)) cut++;
    return cut;
  };
  const holdoutStart = n - Math.round(n * holdout);
  const validationStart = pastTies(holdoutStart - Math.round(n * validation));
  const holdoutCut = pastTies(Math.max(holdoutStart, validationStart));
  return {
    train: slice(m, order, 0, validationStart),
    validation: slice(m, order, validationStart, holdoutCut),
    holdout: slice(m, order, holdoutCut, n),
    validationFrom: holdoutCut > validationStart ? time(validationStart) : null,
    holdoutFrom: n > holdoutCut ? time(holdoutCut) : null,
  };
}
