// Where a time-ordered training set is cut into train / validation / holdout. The rule is
// splitByTime's (lib/core/training/time-split.ts), applied to rows already sorted by event time,
// so a set built here is split exactly as `fathom train` would split the same rows: shares of the
// row count, the latest rows last, and a cut that would fall inside a run of equal event times
// moved past it, so no timestamp straddles two splits. Nothing is shuffled.
import { ConfigError } from '../errors';

export const SPLITS = ['train', 'validation', 'holdout'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface SplitPlan {
  /** Row ranges [start, end) of the sorted rows. */
  readonly train: { readonly start: number; readonly end: number };
  readonly validation: { readonly start: number; readonly end: number };
  readonly holdout: { readonly start: number; readonly end: number };
}

/**
 * Cuts for rows whose event times (any unit) are `times`, ascending. Throws a ConfigError naming
 * `times` when they are not sorted: a plan over unsorted rows would silently mix time spans.
 */
export function planTimeSplit(times: ArrayLike<number>, validation: number, holdout: number): SplitPlan {
  const n = times.length;
  for (let i = 1; i < n; i++) {
    if (!(times[i - 1]! <= times[i]!)) throw new ConfigError(`times must be in ascending order (row ${i} is earlier than row ${i - 1})`, 'times');
  }
  const pastTies = (cut: number): number => {
    while (cut > 0 && cut < n && times[cut] === times[cut - 1]) cut++;
    return cut;
  };
  const holdoutStart = n - Math.round(n * holdout);
  const validationStart = pastTies(Math.max(0, holdoutStart - Math.round(n * validation)));
  const holdoutCut = pastTies(Math.max(holdoutStart, validationStart));
  return {
    train: { start: 0, end: validationStart },
    validation: { start: validationStart, end: holdoutCut },
    holdout: { start: holdoutCut, end: n },
  };
}
