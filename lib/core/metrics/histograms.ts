// Baseline histograms for a model package's manifest: per feature on quantile edges, and for the
// score on fixed edges over [0, 1]. The drift monitor later bins live values on these same edges
// and compares counts (PSI, KS, chi²), so edges are deterministic (a function of the values
// only), finite and strictly increasing. A histogram counts v in bin i when
// edges[i] ≤ v < edges[i+1], the last bin also taking v = its upper edge; values beyond the ends
// (and ±Infinity) are clamped into the end bins; NaN is counted apart as `missing`.
import { ValidationError } from '../errors';
import type { Histogram } from '../models/manifest';
import type { TrainingMatrix } from '../training/matrix';

export const DEFAULT_FEATURE_BINS = 20;
export const DEFAULT_SCORE_BINS = 10;

/** The next float64 above a finite v (v itself when none is finite). */
function nextUp(v: number): number {
  if (v === 0) return Number.MIN_VALUE;
  const f = new Float64Array([v]);
  const u = new BigUint64Array(f.buffer);
  u[0] = v > 0 ? u[0]! + 1n : u[0]! - 1n;
  return Number.isFinite(f[0]!) ? f[0]! : v;
}

/**
 * At most `maxBins` bins on quantiles of the finite values. With `maxBins` or fewer distinct
 * values each gets a bin of its own; otherwise the lower edges are the values at ranks
 * ⌊k·n / maxBins⌋ (k = 0 … maxBins − 1) of the sorted values, deduplicated. The top edge is the
 * maximum, or the next double above it when the maximum is itself a lower edge (so that it keeps
 * a bin of its own). No finite value at all gives [0, 1].
 */
export function quantileEdges(values: ArrayLike<number>, maxBins = DEFAULT_FEATURE_BINS): number[] {
  if (!(Number.isInteger(maxBins) && maxBins >= 1)) throw new ValidationError(`maxBins: must be a positive integer (got ${maxBins})`, 'maxBins');
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) finite.push(values[i]!);
  if (finite.length === 0) return [0, 1];
  const sorted = Float64Array.from(finite).sort();
  const n = sorted.length;
  const distinct: number[] = [];
  for (let i = 0; i < n && distinct.length <= maxBins; i++) if (distinct.length === 0 || sorted[i]! !== distinct[distinct.length - 1]) distinct.push(sorted[i]!);
  let lower: number[];
  if (distinct.length <= maxBins) lower = distinct;
  else {
    lower = [];
    for (let k = 0; k < maxBins; k++) {
      const v = sorted[Math.floor((k * n) / maxBins)]!;
      if (lower.length === 0 || v !== lower[lower.length - 1]) lower.push(v);
    }
  }
  // −0 and 0 are one edge; JSON would turn −0 into 0 anyway.
  const edges = lower.map((v) => v + 0);
  const max = sorted[n - 1]! + 0;
  edges.push(max === edges[edges.length - 1] ? nextUp(max) : max);
  return edges;
}

/** Fixed edges k / bins, k = 0 … bins, for probabilities. */
export function scoreEdges(bins = DEFAULT_SCORE_BINS): number[] {
  if (!(Number.isInteger(bins) && bins >= 1)) throw new ValidationError(`bins: must be a positive integer (got ${bins})`, 'bins');
  return Array.from({ length: bins + 1 }, (_, k) => k / bins);
}

/** Counts values on given edges (strictly increasing, finite, at least two). */
export function histogramOf(values: ArrayLike<number>, edges: readonly number[]): Histogram {
  if (edges.length < 2 || edges.some((e, i) => !Number.isFinite(e) || (i > 0 && !(e > edges[i - 1]!)))) {
    throw new ValidationError('edges: need at least two finite, strictly increasing edges', 'edges');
  }
  const last = edges.length - 2;
  const counts = new Array<number>(last + 1).fill(0);
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) {
      missing++;
      continue;
    }
    // Largest i with edges[i] ≤ v, clamped to the bins: the last bin is closed above.
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (edges[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    counts[lo]!++;
  }
  return { edges: [...edges], counts, missing };
}

/** A feature's baseline: its values on their own quantile edges. */
export function featureHistogram(values: ArrayLike<number>, maxBins = DEFAULT_FEATURE_BINS): Histogram {
  return histogramOf(values, quantileEdges(values, maxBins));
}

/** The score's baseline on fixed [0, 1] edges. */
export function scoreHistogram(scores: ArrayLike<number>, bins = DEFAULT_SCORE_BINS): Histogram {
  return histogramOf(scores, scoreEdges(bins));
}

/** Baselines of every feature column of a matrix, by feature name. */
export function featureBaselines(m: TrainingMatrix, maxBins = DEFAULT_FEATURE_BINS): Record<string, Histogram> {
  const f = m.features.length;
  const out: Record<string, Histogram> = {};
  const column = new Float64Array(m.rows);
  m.features.forEach((name, j) => {
    for (let r = 0; r < m.rows; r++) column[r] = m.x[r * f + j]!;
    out[name] = featureHistogram(column, maxBins);
  });
  return out;
}
