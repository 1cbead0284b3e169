import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/core/errors';
import { contributions, expectedMargin, topReasons } from '../../lib/core/models/contributions';
import { leafOf, predictMargin } from '../../lib/core/models/tree-ensemble';
import { randomEnsemble, randomRows, twoTreeEnsemble } from '../support/random-ensemble';

const names = ['amount', 'velocity', 'unused'];

describe('contributions (Saabas path attribution)', () => {
  const model = twoTreeEnsemble();

  it('credits each split with value[child] − value[parent] on the hand-built example', () => {
    expect(expectedMargin(model)).toBeCloseTo(-1 + 0.125 + 1 / 6, 15);
    // [2, 5]: tree 0 goes right (+0.5 − 0.125 to amount); tree 1 goes right on velocity
    // (+0.5 − 1/6) then left on amount (+0.25 − 0.5).
    const a = contributions(model, [2, 5, 0]);
    expect(Array.from(a)).toEqual([0.375 - 0.25, 0.5 - 1 / 6, 0]);
    expect(predictMargin(model, [2, 5, 0])).toBe(-0.25);
    expect(expectedMargin(model) + a[0]! + a[1]! + a[2]!).toBeCloseTo(-0.25, 15);
    // All missing: tree 0 takes its NaN-left leaf (−0.25 − 0.125); tree 1 NaN-right on velocity,
    // then NaN-left on amount.
    const b = contributions(model, [NaN, NaN, NaN]);
    expect(Array.from(b)).toEqual([-0.375 - 0.25, 0.5 - 1 / 6, 0]);
    expect(predictMargin(model, [NaN, NaN, NaN])).toBe(-1);
    expect(expectedMargin(model) + b[0]! + b[1]! + b[2]!).toBeCloseTo(-1, 15);
  });

  it('sums to margin − expected margin on every row of a random 300-tree ensemble', () => {
    const big = randomEnsemble(3, { trees: 300 });
    const F = big.featureCount;
    const rows = randomRows(big, 4, 2000);
    const expected = expectedMargin(big);
    let worstExact = 0;
    let worstF32 = 0;
    for (let i = 0; i < 2000; i++) {
      const row = rows.subarray(i * F, (i + 1) * F);
      let exact = big.baseMargin;
      for (const tree of big.trees) exact += tree.value[leafOf(tree, row)]!;
      const sum = contributions(big, row).reduce((s, c) => s + c, expected);
      worstExact = Math.max(worstExact, Math.abs(sum - exact));
      worstF32 = Math.max(worstF32, Math.abs(sum - predictMargin(big, row)));
    }
    expect(worstExact).toBeLessThan(1e-9);
    // predictMargin accumulates in float32, as onnxruntime does.
    expect(worstF32).toBeLessThan(1e-4);
  });

  it('refuses a row of the wrong width', () => {
    expect(() => contributions(model, [1, 2])).toThrow(ValidationError);
  });
});

describe('topReasons', () => {
  it('lists only features pushing the score up, largest first; fewer than k when fewer push up', () => {
    const model = twoTreeEnsemble();
    expect(topReasons(contributions(model, [2, 5, 0]), names, [2, 5, 0])).toEqual([
      { feature: 'velocity', value: 5, contribution: 0.5 - 1 / 6 },
      { feature: 'amount', value: 2, contribution: 0.125 },
    ]);
    expect(topReasons(contributions(model, [NaN, NaN, NaN]), names, [NaN, NaN, NaN])).toEqual([{ feature: 'velocity', value: null, contribution: 0.5 - 1 / 6 }]);
    expect(topReasons([-1, -2, 0], names, [1, 2, 3])).toEqual([]);
  });

  it('keeps the top k, ties in column order', () => {
    expect(topReasons([0.5, 0.5, 1], names, [1, 2, 3], 2).map((r) => r.feature)).toEqual(['unused', 'amount']);
    expect(topReasons([0.5, 0.5, 1], names, [1, 2, 3], 0)).toEqual([]);
  });

  it('refuses names or values that do not match the contributions', () => {
    expect(() => topReasons([1, 2, 3], ['a'], [1, 2, 3])).toThrow(/names/);
    expect(() => topReasons([1, 2, 3], names, [1])).toThrow(/values/);
    expect(() => topReasons([1, 2, 3], names, [1, 2, 3], 1.5)).toThrow(/k/);
  });
});
