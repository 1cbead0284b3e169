import { describe, expect, it } from 'vitest';
import { Rng } from '../../../lib/core/generator/prng';
import { binMatrix, binOf, computeFeatureBins, FLOAT32_MAX, type TrainingMatrix } from '../../../lib/core/training';

function column(values: number[]): TrainingMatrix {
  return { features: ['v'], rows: values.length, x: Float32Array.from(values), label: new Uint8Array(values.length), eventTime: new Float64Array(values.length) };
}

const awkward = [NaN, -0, 0, 1e-45, -1e-45, Infinity, -Infinity, FLOAT32_MAX, -FLOAT32_MAX, 0.1, 0.1, 1 / 3, 16777216, 16777217, -5];

describe('quantile binning', () => {
  it('bins so that code ≤ b exactly when x < threshold b, for any float32 x', () => {
    const rng = new Rng(3);
    const values = [...awkward, ...Array.from({ length: 3000 }, () => (rng.chance(0.3) ? rng.int(5) : rng.logNormal(2, 2)))];
    const [bins] = computeFeatureBins(column(values), 32);
    const probes = [...values, ...Array.from({ length: 2000 }, () => rng.normal() * 1e3)].map(Math.fround);
    for (const t of bins!.thresholds) probes.push(t, Math.fround(t * (1 + 2 ** -23)), Math.fround(t * (1 - 2 ** -23)));
    let checked = 0;
    for (const x of probes) {
      const code = binOf(bins!, x);
      if (Number.isNaN(x)) {
        expect(code).toBe(bins!.missingBin);
        continue;
      }
      bins!.thresholds.forEach((t, b) => {
        if (code <= b !== x < t) throw new Error(`x=${x} code=${code} threshold[${b}]=${t}`);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(100_000);
  });

  it('keeps thresholds finite, float32 and strictly increasing, within maxBins', () => {
    const rng = new Rng(4);
    const values = [...awkward, ...Array.from({ length: 5000 }, () => rng.normal())];
    for (const maxBins of [2, 7, 255]) {
      const [bins] = computeFeatureBins(column(values), maxBins);
      const t = Array.from(bins!.thresholds);
      expect(t.length + 1).toBeLessThanOrEqual(maxBins);
      expect(bins!.missingBin).toBe(t.length + 1);
      t.forEach((v, i) => {
        expect(Number.isFinite(v)).toBe(true);
        expect(Math.fround(v)).toBe(v);
        expect(Object.is(v, -0)).toBe(false);
        if (i > 0) expect(v).toBeGreaterThan(t[i - 1]!);
      });
    }
  });

  it('gives every distinct value a bin when there are few, and a spike its own bin', () => {
    const [few] = computeFeatureBins(column([3, 1, 2, 2, 3, 1]), 255);
    expect(Array.from(few!.thresholds)).toEqual([1.5, 2.5]);
    const spike = [...new Array<number>(5000).fill(0), ...Array.from({ length: 5000 }, (_, i) => i + 1)];
    const [bins] = computeFeatureBins(column(spike), 16);
    expect(binOf(bins!, 0)).toBe(0);
    expect(binOf(bins!, 1)).toBe(1);
    expect(bins!.thresholds.length).toBe(15);
  });

  it('handles a constant and an all-missing column', () => {
    const m: TrainingMatrix = { features: ['c', 'n'], rows: 3, x: Float32Array.from([7, NaN, 7, NaN, 7, NaN]), label: new Uint8Array(3), eventTime: new Float64Array(3) };
    const bins = computeFeatureBins(m, 255);
    expect(bins.map((b) => b.thresholds.length)).toEqual([0, 0]);
    expect(bins.map((b) => b.canIsolateMissing)).toEqual([false, true]);
    expect(Array.from(binMatrix(m, bins))).toEqual([0, 0, 0, 1, 1, 1]);
  });
});
