// Quantile binning: every feature column becomes Uint8 bin codes, column-major, so building a
// histogram reads one contiguous column per feature.
//
// Bin edges are the split thresholds themselves. A value's bin is the number of thresholds at or
// below it, so for every threshold t_b and every float32 x, `code(x) <= b` holds exactly when
// `x < t_b`: the bin a row falls in during training and the branch `leafOf` takes at serving time
// are the same comparison, on the same float32 value. Thresholds are float32 and finite (JSON and
// ONNX both carry them), strictly between the largest training value of one bin and the smallest
// of the next (the float32 midpoint where one exists), so they hold for unseen values too.
import type { TrainingMatrix } from './matrix';

export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The threshold of the one split that sends only NaN rows left (with `missingLeft`): no finite
 * value is below −FLT_MAX. It is offered only when no training value is −Infinity or −FLT_MAX, so
 * on training rows it is exact; an unseen −Infinity would go left with the NaNs at serving time.
 */
export const MISSING_ONLY_THRESHOLD = -FLOAT32_MAX;

export interface FeatureBins {
  /** Strictly increasing finite float32 thresholds; value bins = thresholds.length + 1. */
  readonly thresholds: Float64Array;
  /** Code of NaN: one past the last value bin (at most 255). */
  readonly missingBin: number;
  /** Whether the NaN-only split (threshold −FLT_MAX) is exact on the training rows. */
  readonly canIsolateMissing: boolean;
}

/** Code of one value: NaN → the missing bin, otherwise the count of thresholds ≤ x. */
export function binOf(bins: FeatureBins, x: number): number {
  if (Number.isNaN(x)) return bins.missingBin;
  const t = bins.thresholds;
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A float32 t with hi < t <= lo, so `x < t` splits the training values exactly; undefined when no
 * finite one exists (hi = FLT_MAX, lo = +Infinity).
 */
function separator(hi: number, lo: number): number | undefined {
  const mid = Math.fround(hi / 2 + lo / 2);
  // + 0 turns −0 into 0: JSON cannot carry −0, and a checkpoint must round-trip bit for bit.
  if (Number.isFinite(mid) && mid > hi && mid <= lo) return mid + 0;
  if (Number.isFinite(lo)) return lo + 0;
  return hi < FLOAT32_MAX ? FLOAT32_MAX : undefined;
}

/**
 * Groups sorted distinct values into at most `maxBins` runs of about equal row count. A value
 * heavier than the current target gets a run of its own, so a spike (say 40 % zeros) does not
 * swallow its neighbours; the target is recomputed on what is left after each run.
 */
function groupRuns(counts: readonly number[], total: number, maxBins: number): number[] {
  const ends: number[] = [];
  const d = counts.length;
  if (d <= maxBins) {
    for (let i = 0; i < d; i++) ends.push(i);
    return ends;
  }
  let remainingRows = total;
  let remainingBins = maxBins;
  let acc = 0;
  for (let i = 0; i < d; i++) {
    const c = counts[i]!;
    if (acc > 0 && remainingBins > 1 && c >= remainingRows / remainingBins) {
      ends.push(i - 1);
      remainingRows -= acc;
      remainingBins--;
      acc = 0;
    }
    acc += c;
    if (i < d - 1 && remainingBins > 1 && acc >= remainingRows / remainingBins) {
      ends.push(i);
      remainingRows -= acc;
      remainingBins--;
      acc = 0;
    }
  }
  if (ends.length === 0 || ends[ends.length - 1] !== d - 1) ends.push(d - 1);
  return ends;
}

/** Bins of one column from its non-NaN values (float32, any order; the array is sorted in place). */
export function featureBinsOf(values: Float32Array, hasMissing: boolean, maxBins: number): FeatureBins {
  values.sort();
  const distinct: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // −0 and 0 compare equal under `<`, so they are one value here as they are in leafOf.
    if (distinct.length > 0 && distinct[distinct.length - 1] === v) counts[counts.length - 1]!++;
    else {
      distinct.push(v);
      counts.push(1);
    }
  }
  const ends = groupRuns(counts, values.length, maxBins);
  const thresholds: number[] = [];
  for (let g = 0; g + 1 < ends.length; g++) {
    const t = separator(distinct[ends[g]!]!, distinct[ends[g]! + 1]!);
    if (t !== undefined) thresholds.push(t);
  }
  const min = distinct.length > 0 ? distinct[0]! : Infinity;
  return {
    thresholds: Float64Array.from(thresholds),
    missingBin: thresholds.length + 1,
    canIsolateMissing: hasMissing && min > -FLOAT32_MAX,
  };
}

/** Bins of every column of a matrix, from its rows alone. */
export function computeFeatureBins(m: TrainingMatrix, maxBins: number): FeatureBins[] {
  const f = m.features.length;
  const out: FeatureBins[] = [];
  const column = new Float32Array(m.rows);
  for (let j = 0; j < f; j++) {
    let n = 0;
    for (let r = 0; r < m.rows; r++) {
      const v = m.x[r * f + j]!;
      if (!Number.isNaN(v)) column[n++] = v;
    }
    out.push(featureBinsOf(column.slice(0, n), n < m.rows, maxBins));
  }
  return out;
}

/** Column-major codes: `codes[j * rows + r]` is the bin of row r in feature j. */
export function binMatrix(m: TrainingMatrix, bins: readonly FeatureBins[]): Uint8Array {
  const f = m.features.length;
  const codes = new Uint8Array(f * m.rows);
  for (let j = 0; j < f; j++) {
    const b = bins[j]!;
    const base = j * m.rows;
    for (let r = 0; r < m.rows; r++) codes[base + r] = binOf(b, m.x[r * f + j]!);
  }
  return codes;
}
