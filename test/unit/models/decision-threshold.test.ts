import { describe, expect, it } from 'vitest';
import { thresholdAtFpr } from '../../../lib/core/models/decision-threshold';

describe('thresholdAtFpr', () => {
  it('takes the highest threshold reaching the best recall within the false positive budget', () => {
    // Nine negatives, positives at 0.95 and 0.5.
    const scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];
    const labels = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    // Budget 0.1 of nine negatives allows none: stop before 0.9.
    expect(thresholdAtFpr(scores, labels, 0.1)).toBe(0.95);
    // Budget 0.5 allows four: the positive at 0.5 comes after exactly four.
    expect(thresholdAtFpr(scores, labels, 0.5)).toBe(0.5);
  });

  it('flags nothing when the top group alone breaks the budget', () => {
    expect(thresholdAtFpr([0.9, 0.1], [0, 1], 0)).toBe(1);
  });

  it('treats tied scores as one step', () => {
    expect(thresholdAtFpr([0.8, 0.8, 0.1, 0.1], [1, 0, 0, 0], 0.34)).toBe(0.8);
    expect(thresholdAtFpr([0.8, 0.8, 0.1, 0.1], [1, 0, 0, 0], 0.3)).toBe(1);
  });

  it('names the field of bad input', () => {
    expect(() => thresholdAtFpr([0.5], [1, 0])).toThrow(/labels/);
    expect(() => thresholdAtFpr([0.5], [1])).toThrow(/needs negatives/);
    expect(() => thresholdAtFpr([0.5], [0], 1.5)).toThrow(/targetFpr/);
  });
});
