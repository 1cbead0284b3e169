// Growing one regression tree on binned data from gradients and hessians (Newton boosting).
//
// Histograms: per node and feature, the gradient and hessian sums of its rows by bin, interleaved
// [g0, h0, g1, h1, …] with the missing bin last. Of two children only the smaller is built from
// its rows; the larger is its parent's histogram minus the smaller's, computed in place in the
// parent's buffer. Rows of a node are a contiguous range of one index array, partitioned stably
// at each split, so every histogram pass reads its node's rows in ascending order.
import { ValidationError } from '../errors';
import type { Tree } from '../models/tree-ensemble';
import { MISSING_ONLY_THRESHOLD, type FeatureBins } from './binning';
import type { TrainParams } from './params';

/**
 * A hessian sum at or below this counts as empty. Sibling histograms come from a subtraction, so
 * an empty bin may hold rounding noise instead of an exact zero.
 */
const MIN_HESS = 1e-10;

/** A tree as training built it: splits on bin codes, the form that routes binned rows. */
export interface BinnedTree {
  readonly feature: Int32Array;
  /** Rows whose code is at most `bin[n]` go left; −1 sends only the missing bin (if missingLeft) left. */
  readonly bin: Int32Array;
  readonly missingLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Output of each node as in the exported tree (leaves: float32, learning rate applied). */
  readonly value: Float64Array;
}

/** Binned rows, column-major (see binning.ts), with the bins that produced them. */
export interface BinnedRows {
  readonly rows: number;
  readonly codes: Uint8Array;
  readonly missingBin: Int32Array;
}

/** The leaf a binned row reaches: the same branch `leafOf` takes on its float32 value. */
export function leafOfBinned(t: BinnedTree, data: BinnedRows, r: number): number {
  let n = 0;
  const { codes, rows, missingBin } = data;
  while (t.feature[n]! >= 0) {
    const f = t.feature[n]!;
    const code = codes[f * rows + r]!;
    const goLeft = code === missingBin[f] ? t.missingLeft[n] === 1 : code <= t.bin[n]!;
    n = goLeft ? t.left[n]! : t.right[n]!;
  }
  return n;
}

/**
 * The binned form of an exported tree, for trees read back from a checkpoint: each threshold must
 * be one of the bins' own thresholds, which also proves the checkpoint was trained on this data.
 */
export function binnedTreeOf(tree: Tree, bins: readonly FeatureBins[], field: string): BinnedTree {
  const n = tree.feature.length;
  const arrays = [tree.threshold, tree.left, tree.right, tree.missingLeft, tree.value, tree.cover];
  if (n === 0 || arrays.some((a) => a.length !== n)) throw new ValidationError(`${field}: node arrays must be non-empty and of equal length`, field);
  const out = {
    feature: new Int32Array(n),
    bin: new Int32Array(n),
    missingLeft: new Uint8Array(n),
    left: new Int32Array(n),
    right: new Int32Array(n),
    value: Float64Array.from(tree.value),
  };
  for (let i = 0; i < n; i++) {
    const f = tree.feature[i]!;
    out.feature[i] = f;
    out.missingLeft[i] = tree.missingLeft[i]!;
    out.left[i] = tree.left[i]!;
    out.right[i] = tree.right[i]!;
    if (f < 0) continue;
    const fb = bins[f];
    // Children after their parent: the walk always ends, and a corrupt checkpoint cannot loop.
    if (!fb || !(tree.left[i]! > i && tree.left[i]! < n && tree.right[i]! > i && tree.right[i]! < n)) {
      throw new ValidationError(`${field}: node ${i} has an invalid feature or child`, field);
    }
    const thr = tree.threshold[i]!;
    const b = fb.thresholds.indexOf(thr);
    if (b >= 0) out.bin[i] = b;
    else if (thr === MISSING_ONLY_THRESHOLD && fb.canIsolateMissing) out.bin[i] = -1;
    else throw new ValidationError(`${field}: node ${i} threshold ${thr} is not a bin edge of feature ${f}: trained on other data`, field);
  }
  return out;
}

interface Leaf {
  readonly node: number;
  readonly start: number;
  readonly end: number;
  readonly depth: number;
  readonly g: number;
  readonly h: number;
  hist: Float64Array | undefined;
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  gl: number;
  hl: number;
}

export interface GrownTree {
  readonly tree: Tree;
  readonly binned: BinnedTree;
  /** Sampled rows by leaf: `rows[start, end)` of the sample reached leaf `node`. */
  readonly leaves: readonly { readonly node: number; readonly start: number; readonly end: number }[];
}

type GrowParams = Pick<TrainParams, 'maxDepth' | 'maxLeaves' | 'learningRate' | 'l2' | 'minChildWeight' | 'minSplitGain'>;

export class TreeGrower {
  private readonly offsets: Int32Array;
  private readonly histSize: number;
  private readonly pool: Float64Array[] = [];
  private readonly scratch: Uint32Array;
  private readonly og: Float64Array;
  private readonly oh: Float64Array;
  private readonly minWeight: number;
  private grad: Float64Array = new Float64Array(0);
  private hess: Float64Array = new Float64Array(0);
  private rows: Uint32Array = new Uint32Array(0);
  private features: Int32Array = new Int32Array(0);

  constructor(
    private readonly data: BinnedRows,
    private readonly bins: readonly FeatureBins[],
    private readonly params: GrowParams,
  ) {
    this.offsets = new Int32Array(bins.length);
    let size = 0;
    for (let f = 0; f < bins.length; f++) {
      this.offsets[f] = size;
      size += 2 * (bins[f]!.missingBin + 1);
    }
    this.histSize = size;
    this.scratch = new Uint32Array(data.rows);
    this.og = new Float64Array(data.rows);
    this.oh = new Float64Array(data.rows);
    this.minWeight = Math.max(params.minChildWeight, MIN_HESS);
  }

  /**
   * Grows one tree on `rows` (sampled row indices, ascending; reordered in place) using only
   * `features` (ascending). Ties between equal gains go to the lower feature, bin and node id.
   */
  grow(rows: Uint32Array, features: Int32Array, grad: Float64Array, hess: Float64Array): GrownTree {
    this.rows = rows;
    this.features = features;
    this.grad = grad;
    this.hess = hess;
    const { maxDepth, maxLeaves } = this.params;
    const nodeG: number[] = [];
    const nodeH: number[] = [];
    const split: { feature: number; bin: number; missingLeft: boolean; left: number; right: number }[] = [];
    const addNode = (g: number, h: number): number => {
      nodeG.push(g);
      nodeH.push(h);
      split.push({ feature: -1, bin: 0, missingLeft: false, left: -1, right: -1 });
      return nodeG.length - 1;
    };

    let g = 0;
    let h = 0;
    for (let i = 0; i < rows.length; i++) {
      g += grad[rows[i]!]!;
      h += hess[rows[i]!]!;
    }
    const root = this.leaf(addNode(g, h), 0, rows.length, 0, g, h);
    const leaves: Leaf[] = [root];
    if (maxDepth > 0 && rows.length >= 2) {
      root.hist = this.acquire();
      this.build(root.hist, root.start, root.end);
      this.findSplit(root);
    }

    while (leaves.length < maxLeaves) {
      let best = -1;
      for (let i = 0; i < leaves.length; i++) {
        if (leaves[i]!.gain > 0 && (best < 0 || leaves[i]!.gain > leaves[best]!.gain)) best = i;
      }
      if (best < 0) break;
      const p = leaves[best]!;
      const mid = this.partition(p);
      const l = this.leaf(addNode(p.gl, p.hl), p.start, mid, p.depth + 1, p.gl, p.hl);
      const r = this.leaf(addNode(p.g - p.gl, p.h - p.hl), mid, p.end, p.depth + 1, p.g - p.gl, p.h - p.hl);
      split[p.node] = { feature: p.feature, bin: p.bin, missingLeft: p.missingLeft, left: l.node, right: r.node };
      const parentHist = p.hist!;
      p.hist = undefined;
      if (p.depth + 1 < maxDepth) {
        const [small, large] = mid - p.start <= p.end - mid ? [l, r] : [r, l];
        small.hist = this.acquire();
        this.build(small.hist, small.start, small.end);
        this.subtract(parentHist, small.hist);
        large.hist = parentHist;
        this.findSplit(l);
        this.findSplit(r);
      } else this.release(parentHist);
      leaves[best] = l;
      leaves.push(r);
    }
    for (const leaf of leaves) if (leaf.hist) this.release(leaf.hist);
    return this.finish(nodeG, nodeH, split, leaves);
  }

  private leaf(node: number, start: number, end: number, depth: number, g: number, h: number): Leaf {
    return { node, start, end, depth, g, h, hist: undefined, gain: 0, feature: -1, bin: 0, missingLeft: false, gl: 0, hl: 0 };
  }

  private finish(nodeG: number[], nodeH: number[], split: { feature: number; bin: number; missingLeft: boolean; left: number; right: number }[], leaves: Leaf[]): GrownTree {
    const { l2, learningRate } = this.params;
    const n = nodeG.length;
    const value = new Float64Array(n);
    const cover = new Float64Array(n);
    // Children are numbered after their parent, so a reverse sweep sees both before the parent.
    for (let i = n - 1; i >= 0; i--) {
      const s = split[i]!;
      if (s.feature < 0) {
        const denom = nodeH[i]! + l2;
        // + 0 normalises −0 (G = 0), which JSON could not carry through a checkpoint.
        value[i] = denom > 0 ? Math.fround((-nodeG[i]! / denom) * learningRate) + 0 : 0;
        cover[i] = nodeH[i]! + 0;
      } else {
        const cl = cover[s.left]!;
        const cr = cover[s.right]!;
        cover[i] = cl + cr;
        value[i] = cl + cr > 0 ? (cl * value[s.left]! + cr * value[s.right]!) / (cl + cr) + 0 : 0;
      }
    }
    const thresholdOf = (s: { feature: number; bin: number }): number =>
      s.feature < 0 ? 0 : s.bin < 0 ? MISSING_ONLY_THRESHOLD : this.bins[s.feature]!.thresholds[s.bin]!;
    const tree: Tree = {
      feature: split.map((s) => s.feature),
      threshold: split.map(thresholdOf),
      left: split.map((s) => s.left),
      right: split.map((s) => s.right),
      missingLeft: split.map((s): 0 | 1 => (s.missingLeft ? 1 : 0)),
      value: Array.from(value),
      cover: Array.from(cover),
    };
    const binned: BinnedTree = {
      feature: Int32Array.from(tree.feature),
      bin: Int32Array.from(split, (s) => s.bin),
      missingLeft: Uint8Array.from(tree.missingLeft),
      left: Int32Array.from(tree.left),
      right: Int32Array.from(tree.right),
      value,
    };
    return { tree, binned, leaves: leaves.map((l) => ({ node: l.node, start: l.start, end: l.end })) };
  }

  private acquire(): Float64Array {
    const h = this.pool.pop() ?? new Float64Array(this.histSize);
    h.fill(0);
    return h;
  }

  private release(h: Float64Array): void {
    this.pool.push(h);
  }

  private build(hist: Float64Array, start: number, end: number): void {
    const { rows, og, oh, grad, hess, features, offsets } = this;
    const { codes, rows: nRows } = this.data;
    const n = end - start;
    // Gathered once per node: the per-feature passes then read gradients sequentially.
    for (let i = 0; i < n; i++) {
      const r = rows[start + i]!;
      og[i] = grad[r]!;
      oh[i] = hess[r]!;
    }
    const column = (f: number): Uint8Array => codes.subarray(f * nRows, (f + 1) * nRows);
    let k = 0;
    // Four features per pass over the rows: one index and gradient load serves four bins.
    for (; k + 4 <= features.length; k += 4) {
      const c0 = column(features[k]!), c1 = column(features[k + 1]!), c2 = column(features[k + 2]!), c3 = column(features[k + 3]!);
      const o0 = offsets[features[k]!]!, o1 = offsets[features[k + 1]!]!, o2 = offsets[features[k + 2]!]!, o3 = offsets[features[k + 3]!]!;
      for (let i = 0; i < n; i++) {
        const r = rows[start + i]!;
        const g = og[i]!;
        const h = oh[i]!;
        const a0 = o0 + (c0[r]! << 1);
        hist[a0]! += g;
        hist[a0 + 1]! += h;
        const a1 = o1 + (c1[r]! << 1);
        hist[a1]! += g;
        hist[a1 + 1]! += h;
        const a2 = o2 + (c2[r]! << 1);
        hist[a2]! += g;
        hist[a2 + 1]! += h;
        const a3 = o3 + (c3[r]! << 1);
        hist[a3]! += g;
        hist[a3 + 1]! += h;
      }
    }
    for (; k < features.length; k++) {
      const col = column(features[k]!);
      const off = offsets[features[k]!]!;
      for (let i = 0; i < n; i++) {
        const at = off + (col[rows[start + i]!]! << 1);
        hist[at]! += og[i]!;
        hist[at + 1]! += oh[i]!;
      }
    }
  }

  private subtract(parent: Float64Array, small: Float64Array): void {
    const { features, offsets, bins } = this;
    for (let k = 0; k < features.length; k++) {
      const f = features[k]!;
      const from = offsets[f]!;
      const to = from + 2 * (bins[f]!.missingBin + 1);
      for (let i = from; i < to; i++) parent[i]! -= small[i]!;
    }
  }

  /** Best split of a leaf by exact gain over its histogram; releases the histogram if none. */
  private findSplit(leaf: Leaf): void {
    const hist = leaf.hist!;
    const { l2, minSplitGain } = this.params;
    const minW = this.minWeight;
    const { g, h } = leaf;
    const parentScore = (g * g) / (h + l2);
    leaf.gain = 0;
    if (leaf.end - leaf.start >= 2 && h >= 2 * minW) {
      const consider = (gl: number, hl: number, f: number, b: number, missingLeft: boolean): void => {
        const hr = h - hl;
        if (hl < minW || hr < minW) return;
        const gr = g - gl;
        const gain = 0.5 * ((gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parentScore) - minSplitGain;
        if (gain > leaf.gain) {
          leaf.gain = gain;
          leaf.feature = f;
          leaf.bin = b;
          leaf.missingLeft = missingLeft;
          leaf.gl = gl;
          leaf.hl = hl;
        }
      };
      for (let k = 0; k < this.features.length; k++) {
        const f = this.features[k]!;
        const off = this.offsets[f]!;
        const fb = this.bins[f]!;
        const mb = fb.missingBin;
        const gm = hist[off + 2 * mb]!;
        const hm = hist[off + 2 * mb + 1]!;
        const hasMissing = hm > MIN_HESS;
        let gl = 0;
        let hl = 0;
        for (let b = 0; b + 1 < mb; b++) {
          gl += hist[off + 2 * b]!;
          hl += hist[off + 2 * b + 1]!;
          if (hasMissing) {
            consider(gl, hl, f, b, false);
            consider(gl + gm, hl + hm, f, b, true);
          } else {
            // No NaN reached this node in training: unseen NaNs follow the heavier side.
            consider(gl, hl, f, b, hl >= h - hl);
          }
        }
        if (hasMissing && fb.canIsolateMissing) consider(gm, hm, f, -1, true);
      }
    }
    if (leaf.gain <= 0) {
      this.release(hist);
      leaf.hist = undefined;
    }
  }

  /** Stable partition of the leaf's rows by its split; returns where the right child starts. */
  private partition(leaf: Leaf): number {
    const { rows, scratch } = this;
    const { codes, rows: nRows } = this.data;
    const col = codes.subarray(leaf.feature * nRows, (leaf.feature + 1) * nRows);
    const mb = this.data.missingBin[leaf.feature]!;
    const bin = leaf.bin;
    const ml = leaf.missingLeft;
    let nl = leaf.start;
    let nr = 0;
    for (let i = leaf.start; i < leaf.end; i++) {
      const r = rows[i]!;
      const code = col[r]!;
      if (code === mb ? ml : code <= bin) rows[nl++] = r;
      else scratch[nr++] = r;
    }
    rows.set(scratch.subarray(0, nr), nl);
    return nl;
  }
}
