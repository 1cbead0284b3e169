// Reason codes: per-feature contributions to one row's margin, by Saabas path attribution (the
// method of treeinterpreter and of XGBoost's `predict(..., pred_contribs=True,
// approx_contribs=True)`).
//
// Method: every node holds `value`, the cover-weighted mean output of the leaves below it (the
// tree's expected output for rows that reach the node). Walking a row from the root to its leaf,
// each split moves the expectation from value[parent] to value[child]; that change is credited to
// the split's feature. Per tree the credits telescope to value[leaf] − value[root], so over the
// ensemble  Σ contributions = margin − expectedMargin,  expectedMargin = baseMargin + Σ value[root].
//
// Why not TreeSHAP: Saabas costs O(depth) per tree, one root-to-leaf walk, the same work as
// scoring, so it fits in the scoring Lambda's latency budget; exact TreeSHAP costs O(leaves ×
// depth²) per tree, orders of magnitude more for depth-8 trees. Known bias: credit depends on
// where a feature sits in the path; splits near the root move the expectation most, so features
// the trees split on early get more than their Shapley share, and a feature's credit can depend
// on the order of interacting splits (Lundberg et al. 2018, "Consistent individualized feature
// attribution for tree ensembles"). Good enough to say which features drove a score up; not a
// fair division of it.
import { ValidationError } from '../errors';
import type { TreeEnsemble } from './tree-ensemble';

/** The margin of a row about which nothing is known: baseMargin + Σ root values. */
export function expectedMargin(model: TreeEnsemble): number {
  let sum = model.baseMargin;
  for (const tree of model.trees) sum += tree.value[0]!;
  return sum;
}

/**
 * Per-feature contributions (log-odds) for one row; they sum to margin − expectedMargin up to
 * float rounding. The row is rounded to float32 first, so the path is the one onnxruntime takes.
 * Compiles the ensemble on every call: a caller explaining many rows keeps a ContributionWalker.
 */
export function contributions(model: TreeEnsemble, row: ArrayLike<number>): Float64Array {
  return new ContributionWalker(model).contributions(row);
}

/**
 * An ensemble compiled for contributions, once per loaded model: every tree's nodes end to end in
 * typed arrays with absolute child indices, and each edge's credit value[child] − value[parent]
 * computed ahead. The walk then reads contiguous numbers instead of chasing 7 arrays per tree,
 * which is most of what reasons cost on the scoring path. The arithmetic is unchanged — the same
 * float64 differences, added per feature in the same tree order — so the result is bit for bit
 * what the plain walk over the trees gives (test/unit/contributions.test.ts checks it).
 */
export class ContributionWalker {
  readonly featureCount: number;
  private readonly roots: Int32Array;
  private readonly feature: Int32Array;
  private readonly threshold: Float64Array;
  private readonly missingLeft: Uint8Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  /** value[left[n]] − value[n] and value[right[n]] − value[n]: the credit of each edge. */
  private readonly creditLeft: Float64Array;
  private readonly creditRight: Float64Array;
  /** Float32 copy of a row that does not arrive as one. */
  private readonly x: Float32Array;

  constructor(model: TreeEnsemble) {
    this.featureCount = model.featureCount;
    let total = 0;
    for (const tree of model.trees) total += tree.feature.length;
    this.roots = new Int32Array(model.trees.length);
    this.feature = new Int32Array(total);
    this.threshold = new Float64Array(total);
    this.missingLeft = new Uint8Array(total);
    this.left = new Int32Array(total);
    this.right = new Int32Array(total);
    this.creditLeft = new Float64Array(total);
    this.creditRight = new Float64Array(total);
    this.x = new Float32Array(model.featureCount);
    let base = 0;
    model.trees.forEach((tree, t) => {
      this.roots[t] = base;
      for (let n = 0; n < tree.feature.length; n++) {
        const g = base + n;
        const f = tree.feature[n]!;
        this.feature[g] = f;
        if (f < 0) continue;
        const l = tree.left[n]!;
        const r = tree.right[n]!;
        this.threshold[g] = tree.threshold[n]!;
        this.missingLeft[g] = tree.missingLeft[n]!;
        this.left[g] = base + l;
        this.right[g] = base + r;
        this.creditLeft[g] = tree.value[l]! - tree.value[n]!;
        this.creditRight[g] = tree.value[r]! - tree.value[n]!;
      }
      base += tree.feature.length;
    });
  }

  /** As `contributions(model, row)`. A Float32Array row is read as is (it already holds float32 values). */
  contributions(row: ArrayLike<number>): Float64Array {
    const width = this.featureCount;
    if (row.length !== width) throw new ValidationError(`row: has ${row.length} values, the model reads ${width}`, 'row');
    let x: ArrayLike<number>;
    if (row instanceof Float32Array) x = row;
    else {
      for (let i = 0; i < width; i++) this.x[i] = row[i]!;
      x = this.x;
    }
    const out = new Float64Array(width);
    const { roots, feature, threshold, missingLeft, left, right, creditLeft, creditRight } = this;
    for (let t = 0; t < roots.length; t++) {
      let n = roots[t]!;
      let f = feature[n]!;
      while (f >= 0) {
        const v = x[f]!;
        // v !== v: NaN, the missing value.
        if (v !== v ? missingLeft[n] === 1 : v < threshold[n]!) {
          out[f] = out[f]! + creditLeft[n]!;
          n = left[n]!;
        } else {
          out[f] = out[f]! + creditRight[n]!;
          n = right[n]!;
        }
        f = feature[n]!;
      }
    }
    return out;
  }
}

export interface Reason {
  readonly feature: string;
  /** The row's value of the feature; null when it was missing (NaN). */
  readonly value: number | null;
  /** Its contribution to the margin (log-odds), always > 0. */
  readonly contribution: number;
}

/**
 * The k features that pushed this row's score up the most, largest first. Only features with a
 * positive contribution are reasons: when fewer than k push the score up, fewer than k come back,
 * and none when the row scores at or below the expected score on every feature. Ties keep
 * column order.
 */
export function topReasons(contribs: ArrayLike<number>, names: readonly string[], values: ArrayLike<number>, k = 3): Reason[] {
  if (names.length !== contribs.length) throw new ValidationError(`names: has ${names.length} entries, contributions ${contribs.length}`, 'names');
  if (values.length !== contribs.length) throw new ValidationError(`values: has ${values.length} entries, contributions ${contribs.length}`, 'values');
  if (!Number.isInteger(k) || k < 0) throw new ValidationError(`k: must be a non-negative integer, got ${k}`, 'k');
  // One pass keeping the best k in order (k is a handful, the columns a few dozen): cheaper per
  // request than sorting every positive column. Columns arrive in order, so a value equal to one
  // already kept goes after it: ties keep column order.
  const top: number[] = [];
  for (let i = 0; i < contribs.length && k > 0; i++) {
    const c = contribs[i]!;
    if (!(c > 0)) continue;
    if (top.length === k && !(c > contribs[top[k - 1]!]!)) continue;
    let j = top.length;
    while (j > 0 && c > contribs[top[j - 1]!]!) j--;
    top.splice(j, 0, i);
    if (top.length > k) top.pop();
  }
  return top.map((i) => {
    const v = values[i]!;
    return { feature: names[i]!, value: Number.isNaN(v) ? null : v, contribution: contribs[i]! };
  });
}
