import { describe, expect, it } from 'vitest';
import { HistogramSchema } from '../../../lib/core/models/manifest';
import { featureBaselines, featureHistogram, histogramOf, quantileEdges, scoreHistogram } from '../../../lib/core/metrics';

const increasing = (edges: number[]) => edges.every((e, i) => Number.isFinite(e) && (i === 0 || e > edges[i - 1]!));

describe('feature baselines on quantile edges', () => {
  it('gives each value of a discrete feature a bin of its own, NaN apart', () => {
    const h = featureHistogram([0, 0, 1, 1, 1, NaN]);
    expect(h.edges[0]).toBe(0);
    expect(h.edges[1]).toBe(1);
    expect(h.edges).toHaveLength(3);
    expect(h.edges[2]).toBeGreaterThan(1);
    expect(h.counts).toEqual([2, 3]);
    expect(h.missing).toBe(1);
    expect(HistogramSchema.parse(h)).toEqual(h);
  });

  it('cuts a continuous feature into at most 20 bins of about equal count', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    const h = featureHistogram(values);
    expect(h.counts).toHaveLength(20);
    expect(increasing(h.edges)).toBe(true);
    expect(h.edges[0]).toBe(1);
    expect(h.edges[20]).toBe(1000);
    expect(h.counts.every((c) => c === 50)).toBe(true);
  });

  it('deduplicates edges under a spike and stays finite for odd columns', () => {
    const spike = [...new Array<number>(900).fill(0), ...Array.from({ length: 100 }, (_, i) => i + 1)];
    const e = quantileEdges(spike);
    expect(increasing(e)).toBe(true);
    expect(e.length).toBeLessThanOrEqual(21);
    expect(quantileEdges([5, 5, 5])).toEqual([5, expect.any(Number)]);
    expect(quantileEdges([5, 5, 5])[1]).toBeGreaterThan(5);
    expect(quantileEdges([NaN, NaN])).toEqual([0, 1]);
    const inf = featureHistogram([Infinity, -Infinity, 1, 2]);
    expect(increasing(inf.edges)).toBe(true);
    expect(inf.counts.reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('is deterministic in the values, not their order', () => {
    const a = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5];
    expect(featureHistogram(a)).toEqual(featureHistogram([...a].reverse()));
  });

  it('names a histogram per feature column of a matrix', () => {
    const b = featureBaselines({ features: ['a', 'b'], rows: 3, x: Float32Array.from([1, NaN, 2, 5, 3, 5]), label: new Uint8Array(3), eventTime: new Float64Array(3) });
    expect(Object.keys(b)).toEqual(['a', 'b']);
    expect(b.a!.counts.reduce((s, c) => s + c, 0)).toBe(3);
    expect(b.b!.missing).toBe(1);
  });
});

describe('score baseline on fixed [0, 1] edges', () => {
  it('uses ten equal bins, the last one closed', () => {
    const h = scoreHistogram([0, 0.05, 0.1, 0.3, 0.99, 1, NaN]);
    expect(h.edges).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(h.counts).toEqual([2, 1, 0, 1, 0, 0, 0, 0, 0, 2]);
    expect(h.missing).toBe(1);
  });

  it('refuses edges that are not strictly increasing', () => {
    expect(() => histogramOf([1], [0, 0])).toThrow(expect.objectContaining({ field: 'edges' }));
  });
});
