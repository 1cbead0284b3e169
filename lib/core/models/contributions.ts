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
 */
export function contributions(model: TreeEnsemble, row: ArrayLike<number>): Float64Array {
  if (row.length !== model.featureCount) throw new ValidationError(`row: has ${row.length} values, the model reads ${model.featureCount}`, 'row');
  const x = Float32Array.from(row as ArrayLike<number>);
  const out = new Float64Array(model.featureCount);
  for (const tree of model.trees) {
    let n = 0;
    let f = tree.feature[0]!;
    while (f >= 0) {
      const v = x[f]!;
      const goLeft = Number.isNaN(v) ? tree.missingLeft[n] === 1 : v < tree.threshold[n]!;
      const child = goLeft ? tree.left[n]! : tree.right[n]!;
      out[f] = out[f]! + (tree.value[child]! - tree.value[n]!);
      n = child;
      f = tree.feature[n]!;
    }
  }
  return out;
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
  const up: number[] = [];
  for (let i = 0; i < contribs.length; i++) if (contribs[i]! > 0) up.push(i);
  up.sort((a, b) => contribs[b]! - contribs[a]! || a - b);
  return up.slice(0, k).map((i) => {
    const v = values[i]!;
    return { feature: names[i]!, value: Number.isNaN(v) ? null : v, contribution: contribs[i]! };
  });
}
