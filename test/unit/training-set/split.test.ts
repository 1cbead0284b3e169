import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors';
import { splitByTime, type TrainingMatrix } from '../../../lib/core/training';
import { planTimeSplit } from '../../../lib/core/training-set';

const matrix = (times: number[]): TrainingMatrix => ({
  features: ['i'],
  rows: times.length,
  x: Float32Array.from(times, (_, i) => i),
  label: new Uint8Array(times.length),
  eventTime: Float64Array.from(times),
});

describe('split planning', () => {
  it('cuts exactly where splitByTime cuts the same sorted rows, ties included', () => {
    let seed = 3;
    const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 300; trial++) {
      const n = Math.floor(random() * 60);
      // Few distinct times: many runs of equal timestamps around the cuts.
      const times = Array.from({ length: n }, () => Math.floor(random() * (1 + trial % 12))).sort((a, b) => a - b);
      const validation = Math.floor(random() * 5) / 10;
      const holdout = Math.floor(random() * 5) / 10;
      const plan = planTimeSplit(times, validation, holdout);
      const split = splitByTime(matrix(times), { validation, holdout });
      expect([plan.train.end - plan.train.start, plan.validation.end - plan.validation.start, plan.holdout.end - plan.holdout.start]).toEqual([
        split.train.rows,
        split.validation.rows,
        split.holdout.rows,
      ]);
      expect(plan.train.start).toBe(0);
      expect(plan.validation.start).toBe(plan.train.end);
      expect(plan.holdout.start).toBe(plan.validation.end);
      expect(plan.holdout.end).toBe(n);
      // No timestamp straddles a cut.
      for (const cut of [plan.validation.start, plan.holdout.start]) if (cut > 0 && cut < n) expect(times[cut - 1]).toBeLessThan(times[cut]!);
    }
  });

  it('refuses unsorted times rather than mixing spans', () => {
    expect(() => planTimeSplit([1, 3, 2], 0.15, 0.15)).toThrow(ConfigError);
  });

  it('plans an empty set as three empty splits', () => {
    expect(planTimeSplit([], 0.15, 0.15)).toEqual({ train: { start: 0, end: 0 }, validation: { start: 0, end: 0 }, holdout: { start: 0, end: 0 } });
  });
});
