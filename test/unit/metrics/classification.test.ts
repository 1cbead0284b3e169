import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/core/errors';
import { Rng } from '../../../lib/core/generator/prng';
import { HoldoutMetricsSchema } from '../../../lib/core/models/manifest';
import { expectedCalibrationError, holdoutMetrics, logLoss, prAuc, recallAtFpr, rocAuc } from '../../../lib/core/metrics';

/** ROC-AUC by definition: the share of (positive, negative) pairs ranked right, ties one half. */
function pairwiseAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe('rocAuc', () => {
  it('matches a hand-computed case', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('counts a tie between a positive and a negative as one half', () => {
    // Pairs: (0.5+, 0.5−) ½, (0.5+, 0.2−) 1, (0.8+, ·) 2 → 3.5 / 4.
    expect(rocAuc([0.5, 0.5, 0.2, 0.8], [1, 0, 0, 1])).toBeCloseTo(0.875, 12);
    expect(rocAuc([0.3, 0.3, 0.3], [1, 0, 1])).toBeCloseTo(0.5, 12);
  });

  it('agrees with the pairwise definition on random scores with many ties', () => {
    const rng = new Rng(5);
    const scores = Array.from({ length: 400 }, () => rng.int(12));
    const labels = scores.map((s) => (rng.chance(0.1 + s / 20) ? 1 : 0));
    expect(rocAuc(scores, labels)).toBeCloseTo(pairwiseAuc(scores, labels), 12);
  });

  it('is NaN with one class and refuses mismatched or bad input', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => rocAuc([0.1, 0.2], [1])).toThrow(ValidationError);
    expect(() => rocAuc([0.1, NaN], [1, 0])).toThrow(expect.objectContaining({ field: 'scores' }));
    expect(() => rocAuc([0.1, 0.2], [1, 2])).toThrow(expect.objectContaining({ field: 'labels' }));
  });
});

describe('prAuc (average precision)', () => {
  it('matches a hand-computed case', () => {
    // Thresholds 0.8: P=1, R=½ · 0.4: R stays ½ · 0.35: P=⅔, R=1 → ½·1 + ½·⅔.
    expect(prAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(5 / 6, 12);
  });

  it('takes a group of tied scores as one threshold', () => {
    expect(prAuc([0.5, 0.5], [1, 0])).toBeCloseTo(0.5, 12);
    // Tied group first: P=½ at R=½; then the second positive alone: P=⅔ at R=1.
    expect(prAuc([0.9, 0.9, 0.1], [1, 0, 1])).toBeCloseTo(0.5 * 0.5 + 0.5 * (2 / 3), 12);
  });

  it('is 1 for a perfect ranking and NaN without positives', () => {
    expect(prAuc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    expect(prAuc([0.9, 0.8], [0, 0])).toBeNaN();
  });
});

describe('recallAtFpr', () => {
  it('reads the best recall whose false positive rate stays within the budget', () => {
    // 100 negatives scored 0…99; positives at 99.5, 98.5 and 50. One false positive (1 %) is
    // allowed: threshold 98.5 flags negative 99 and two positives.
    const scores = [...Array.from({ length: 100 }, (_, i) => i), 99.5, 98.5, 50];
    const labels = [...new Array<number>(100).fill(0), 1, 1, 1];
    expect(recallAtFpr(scores, labels, 0.01)).toBeCloseTo(2 / 3, 12);
    expect(recallAtFpr(scores, labels, 0)).toBeCloseTo(1 / 3, 12);
    expect(recallAtFpr(scores, labels, 0.5)).toBe(1);
  });

  it('does not split a group of tied scores', () => {
    // The top group holds a positive and a negative: its FPR is ½, over a 1 % budget.
    expect(recallAtFpr([0.9, 0.9, 0.1], [1, 0, 0], 0.01)).toBe(0);
  });
});

describe('logLoss', () => {
  it('matches a hand-computed case', () => {
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
  });

  it('clips certain mistakes to a finite loss', () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 6);
    expect(logLoss([0], [1], 1e-3)).toBeCloseTo(-Math.log(1e-3), 12);
  });
});

describe('expectedCalibrationError', () => {
  it('weights each bin’s gap by its share of rows', () => {
    // Bin 0: p .05, y 0 → .05 · bin 1: p .15, y ½ → .35 (two rows) · bin 9: p .95, y 1 → .05.
    expect(expectedCalibrationError([0.05, 0.15, 0.15, 0.95], [0, 1, 0, 1])).toBeCloseTo((0.05 + 2 * 0.35 + 0.05) / 4, 12);
  });

  it('puts probability 1 in the last bin and is 0 when calibrated per bin', () => {
    expect(expectedCalibrationError([1, 1], [1, 1])).toBe(0);
    expect(expectedCalibrationError([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0])).toBeCloseTo(0, 12);
  });
});

describe('holdoutMetrics', () => {
  it('fills the manifest shape', () => {
    const m = holdoutMetrics([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(HoldoutMetricsSchema.parse(m)).toEqual(m);
    expect(m).toMatchObject({ rows: 4, positives: 2, roc_auc: 0.75 });
    expect(m.pr_auc).toBeCloseTo(5 / 6, 12);
  });

  it('refuses a set with one class, naming the labels', () => {
    expect(() => holdoutMetrics([0.1, 0.2], [0, 0])).toThrow(expect.objectContaining({ field: 'labels' }));
  });
});
