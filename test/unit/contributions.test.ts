import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/core/errors';
import { ContributionWalker, contributions, expectedMargin, topReasons } from '../../lib/core/models/contributions';
import { leafOf, predictMargin, type TreeEnsemble } from '../../lib/core/models/tree-ensemble';
import { randomEnsemble, randomRows, twoTreeEnsemble } from '../support/random-ensemble';

const names = ['amount', 'velocity', 'unused'];

/** The method as written down: walk each tree, crediting value[child] − value[parent] to the split's feature. */
function plainWalk(model: TreeEnsemble, row: ArrayLike<number>): Float64Array {
  const x = Float32Array.from(row);
  const out = new Float64Array(model.featureCount);
  for (const tree of model.trees) {
    let n = 0;
    while (tree.feature[n]! >= 0) {
      const f = tree.feature[n]!;
      const v = x[f]!;
      const child = (Number.isNaN(v) ? tree.missingLeft[n] === 1 : v < tree.threshold[n]!) ? tree.left[n]! : tree.right[n]!;
      out[f] = out[f]! + (tree.value[child]! - tree.value[n]!);
      n = child;
    }
  }
  return out;
}

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
    expect(() => new ContributionWalker(model).contributions(new Float32Array(4))).toThrow(ValidationError);
  });

  it('compiled walker: bit for bit the plain walk, on float32 rows and on rows it must round', () => {
    for (const seed of [1, 2, 3]) {
      const big = randomEnsemble(seed, { trees: 200 });
      const F = big.featureCount;
      const rows = randomRows(big, seed + 10, 1000);
      const walker = new ContributionWalker(big);
      for (let i = 0; i < 1000; i++) {
        const row = rows.subarray(i * F, (i + 1) * F);
        const expected = Array.from(plainWalk(big, row));
        expect(Array.from(walker.contributions(row))).toEqual(expected);
        // As plain numbers, nudged off float32: the walker must round them as onnxruntime does.
        const doubles = Array.from(row, (v) => (Number.isFinite(v) && v !== 0 ? v * (1 + 1e-12) : v));
        expect(Array.from(walker.contributions(doubles))).toEqual(Array.from(plainWalk(big, doubles)));
      }
    }
  });

  it('compiled walker: a tree that is a single leaf credits nothing, and a split may have a leaf on either side', () => {
    const leafOnly = { feature: [-1], threshold: [0], left: [-1], right: [-1], missingLeft: [0 as const], value: [0.75], cover: [4] };
    // Node 0 splits on f1 with a leaf on its right; its left child, numbered after the leaves, splits on f0.
    const lopsided = {
      feature: [1, -1, -1, 0, -1],
      threshold: [3, 0, 0, 1, 0],
      left: [3, -1, -1, 4, -1],
      right: [1, -1, -1, 2, -1],
      missingLeft: [1, 0, 0, 0, 0] as (0 | 1)[],
      value: [0.1, 0.4, -0.3, -0.2, -0.1],
      cover: [5, 2, 1, 3, 2],
    };
    const ensemble: TreeEnsemble = { featureCount: 3, baseMargin: 0, trees: [leafOnly, lopsided, leafOnly] };
    const walker = new ContributionWalker(ensemble);
    for (const row of [[0, 0, 0], [2, 0, 0], [0, 5, 0], [NaN, NaN, 0], [NaN, 7, 1]]) {
      expect(Array.from(walker.contributions(row))).toEqual(Array.from(plainWalk(ensemble, row)));
    }
  });

  it('compiled walker: refuses trees whose nodes do not form a tree, rather than looping', () => {
    const cyclic = { feature: [0, 1], threshold: [1, 2], left: [1, -1], right: [-1, 0], missingLeft: [0 as const, 0 as const], value: [0, 0], cover: [1, 1] };
    const shared = { feature: [0, 1, -1, -1], threshold: [1, 2, 0, 0], left: [1, 2, -1, -1], right: [1, 3, -1, -1], missingLeft: [0 as const, 0 as const, 0 as const, 0 as const], value: [0, 0, 0, 0], cover: [1, 1, 1, 1] };
    for (const tree of [cyclic, shared]) expect(() => new ContributionWalker({ featureCount: 2, baseMargin: 0, trees: [tree] })).toThrow(ValidationError);
  });

  it('compiled walker: answers never alias one another', () => {
    const walker = new ContributionWalker(model);
    const a = walker.contributions(Float32Array.of(2, 5, 0));
    const b = walker.contributions([NaN, NaN, NaN]);
    expect(Array.from(a)).toEqual([0.375 - 0.25, 0.5 - 1 / 6, 0]);
    expect(a).not.toBe(b);
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

  it('picks exactly what sorting every positive column picks, ties and extremes included', () => {
    const sorted = (c: readonly number[], k: number) => {
      const up: number[] = [];
      for (let i = 0; i < c.length; i++) if (c[i]! > 0) up.push(i);
      up.sort((a, b) => c[b]! - c[a]! || a - b);
      return up.slice(0, k);
    };
    let s = 7;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pool = [0, -0, 1, 2, 0.5, -1, Infinity, -Infinity, NaN, 1e-300, 3];
    for (let trial = 0; trial < 3000; trial++) {
      const width = 1 + Math.floor(rnd() * 30);
      const c = Array.from({ length: width }, () => (rnd() < 0.5 ? pool[Math.floor(rnd() * pool.length)]! : rnd() - 0.3));
      const cols = Array.from({ length: width }, (_, i) => `f${i}`);
      for (const k of [0, 1, 3, 5, width]) {
        expect(topReasons(c, cols, c, k).map((r) => r.feature)).toEqual(sorted(c, k).map((i) => `f${i}`));
      }
    }
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
