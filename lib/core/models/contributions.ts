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
 * An ensemble compiled for contributions, once per loaded model. Each split node is one 40-byte
 * record — its two edge credits value[child] − value[node], its threshold, feature, missing
 * direction and the records of its children — in one buffer, numbered breadth-first within its
 * tree; leaves have no record (a child of −1 ends the walk). A row's walk then touches about one
 * cache line per level rather than one per array per level, and the records take about half the
 * memory of one array per field: reasons run right after onnxruntime and the request's own
 * parsing, with the caches shared, so what the walk touches is what it costs. The arithmetic is
 * unchanged — the same float64 credits, added per feature in the same tree order — so the result
 * is bit for bit what the plain walk over the trees gives (test/unit/contributions.test.ts).
 */
export class ContributionWalker {
  readonly featureCount: number;
  /** Each tree's root record; −1 for a tree that is a single leaf (it credits nothing). */
  private readonly roots: Int32Array;
  /** The records as float64, 5 per record: [5k] left credit, [5k + 1] right credit, [5k + 2] threshold. */
  private readonly num: Float64Array;
  /** The same records as int32, 10 per record: [10k + 6] feature, [+ 7] missingLeft, [+ 8] left and [+ 9] right child. */
  private readonly ref: Int32Array;
  /** Float32 copy of a row that does not arrive as one. */
  private readonly x: Float32Array;

  constructor(model: TreeEnsemble) {
    this.featureCount = model.featureCount;
    let splits = 0;
    for (const tree of model.trees) for (const f of tree.feature) if (f >= 0) splits++;
    const buffer = new ArrayBuffer(splits * RECORD_BYTES);
    const num = (this.num = new Float64Array(buffer));
    const ref = (this.ref = new Int32Array(buffer));
    this.roots = new Int32Array(model.trees.length);
    this.x = new Float32Array(model.featureCount);
    let next = 0;
    model.trees.forEach((tree, t) => {
      // Breadth-first: a record's children are numbered as they are queued, so a parent's record
      // can point at them before they are written; the top levels of a tree sit together.
      const nodes: number[] = [];
      const record = (n: number): number => {
        if (tree.feature[n]! < 0) return -1;
        nodes.push(n);
        return next++;
      };
      this.roots[t] = record(0);
      for (let q = 0; q < nodes.length; q++) {
        const n = nodes[q]!;
        const k = this.roots[t]! + q;
        const l = tree.left[n]!;
        const r = tree.right[n]!;
        num[5 * k] = tree.value[l]! - tree.value[n]!;
        num[5 * k + 1] = tree.value[r]! - tree.value[n]!;
        num[5 * k + 2] = tree.threshold[n]!;
        ref[10 * k + 6] = tree.feature[n]!;
        ref[10 * k + 7] = tree.missingLeft[n]!;
        ref[10 * k + 8] = record(l);
        ref[10 * k + 9] = record(r);
        if (next > splits) throw new ValidationError(`trees.${t}: a node is reached twice`, `trees.${t}`);
      }
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
    const { roots, num, ref } = this;
    for (let t = 0; t < roots.length; t++) {
      let k = roots[t]!;
      while (k >= 0) {
        const o = 5 * k;
        const p = 2 * o + 6;
        const f = ref[p]!;
        const v = x[f]!;
        // v !== v: NaN, the missing value.
        if (v !== v ? ref[p + 1] === 1 : v < num[o + 2]!) {
          out[f] = out[f]! + num[o]!;
          k = ref[p + 2]!;
        } else {
          out[f] = out[f]! + num[o + 1]!;
          k = ref[p + 3]!;
        }
      }
    }
    return out;
  }
}

/** Bytes per split record: three float64 (left credit, right credit, threshold) then four int32. */
const RECORD_BYTES = 40;

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
