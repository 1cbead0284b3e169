import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors';
import { splitByTime, type TrainingMatrix } from '../../../lib/core/training';

function matrix(times: number[]): TrainingMatrix {
  const n = times.length;
  return {
    features: ['i'],
    rows: n,
    x: Float32Array.from({ length: n }, (_, i) => i),
    label: Uint8Array.from({ length: n }, (_, i) => i % 2),
    eventTime: Float64Array.from(times),
    eventIds: times.map((_, i) => `e${i}`),
  };
}

describe('time-based split', () => {
  it('takes the latest rows as holdout and the ones before as validation', () => {
    const s = splitByTime(matrix(Array.from({ length: 100 }, (_, i) => 1000 + i)));
    expect([s.train.rows, s.validation.rows, s.holdout.rows]).toEqual([70, 15, 15]);
    expect(Array.from(s.validation.x)).toEqual(Array.from({ length: 15 }, (_, i) => 70 + i));
    expect(s.holdout.eventIds).toEqual(Array.from({ length: 15 }, (_, i) => `e${85 + i}`));
    expect(s.validationFrom).toBe(1070);
    expect(s.holdoutFrom).toBe(1085);
  });

  it('orders rows by time first and keeps rows of equal time on one side', () => {
    // Shuffled times; three rows share the time at the holdout cut.
    const times = [5, 1, 9, 3, 7, 7, 7, 2, 8, 4, 6, 0];
    const s = splitByTime(matrix(times), { validation: 0.25, holdout: 0.25 });
    const t = (m: TrainingMatrix) => Array.from(m.eventTime);
    expect(t(s.train)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t(s.validation)).toEqual([6, 7, 7, 7]);
    expect(t(s.holdout)).toEqual([8, 9]);
    expect(Math.max(...t(s.train))).toBeLessThan(Math.min(...t(s.validation)));
    // Each row keeps its own values and label.
    expect(Array.from(s.holdout.x)).toEqual([8, 2]);
    expect(Array.from(s.holdout.label)).toEqual([0, 0]);
  });

  it('allows an empty validation span and refuses bad fractions', () => {
    const s = splitByTime(matrix([1, 2, 3, 4]), { validation: 0, holdout: 0.5 });
    expect([s.train.rows, s.validation.rows, s.holdout.rows]).toEqual([2, 0, 2]);
    expect(s.validationFrom).toBeNull();
    expect(() => splitByTime(matrix([1]), { holdout: 1 })).toThrow(expect.objectContaining({ field: 'holdout' }));
    expect(() => splitByTime(matrix([1]), { validation: -0.1 })).toThrow(ConfigError);
    expect(() => splitByTime(matrix([1]), { validation: 0.6, holdout: 0.5 })).toThrow(ConfigError);
  });
});
