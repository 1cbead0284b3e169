// Random valid tree ensembles and rows built to hit every edge of the split rule: thresholds on
// float32 edge values (±0, subnormals, ±FLT_MAX, ±Infinity, neighbours of 1), NaN in both missing
// directions, row values exactly equal to thresholds and one float32 step either side of them.
import { Rng } from '../../lib/core/generator/prng';
import type { Tree, TreeEnsemble } from '../../lib/core/models/tree-ensemble';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The next float32 above `x` (x must be float32, not NaN, not +Infinity). */
export function nextUp(x: number): number {
  if (x === 0) return 1.401298464324817e-45;
  f32[0] = x;
  u32[0] = x > 0 ? u32[0]! + 1 : u32[0]! - 1;
  return f32[0]!;
}

/** The next float32 below `x`. */
export const nextDown = (x: number): number => -nextUp(-x);

export const FLOAT32_EDGES: readonly number[] = [
  0,
  -0,
  1,
  -1,
  nextUp(1),
  nextDown(1),
  1.401298464324817e-45, // smallest subnormal
  -1.401298464324817e-45,
  1.1754943508222875e-38, // smallest normal
  3.4028234663852886e38, // FLT_MAX
  -3.4028234663852886e38,
  Infinity,
  -Infinity,
  Math.fround(0.1),
  16777216, // 2^24: above it float32 skips odd integers
  Math.fround(1e-7),
];

export interface RandomEnsembleOptions {
  readonly trees?: number;
  readonly maxDepth?: number;
  readonly featureCount?: number;
  /** Chance a threshold is a FLOAT32_EDGES value rather than a random float32. */
  readonly edgeRate?: number;
}

export function randomEnsemble(seed: number, options: RandomEnsembleOptions = {}): TreeEnsemble {
  const rng = new Rng(seed);
  const featureCount = options.featureCount ?? 16;
  const maxDepth = options.maxDepth ?? 8;
  const edgeRate = options.edgeRate ?? 0.2;
  const count = options.trees ?? 300;
  const trees: Tree[] = [];
  for (let t = 0; t < count; t++) {
    const depth = t === 1 ? 0 : rng.intBetween(1, maxDepth); // tree 1 is a lone leaf
    trees.push(permute(randomTree(rng, depth, featureCount, edgeRate), rng));
  }
  return { featureCount, baseMargin: Math.fround(rng.uniform(-3, 0)), trees };
}

function randomThreshold(rng: Rng, edgeRate: number): number {
  if (rng.chance(edgeRate)) return rng.pick(FLOAT32_EDGES);
  const scale = rng.pick([1e-3, 1, 100, 1e6]);
  return Math.fround(rng.normal() * scale);
}

interface Draft {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  missingLeft: (0 | 1)[];
  value: number[];
  cover: number[];
}

/** Nodes numbered in preorder; values and covers consistent (parent = cover-weighted mean). */
function randomTree(rng: Rng, depth: number, featureCount: number, edgeRate: number): Draft {
  const d: Draft = { feature: [], threshold: [], left: [], right: [], missingLeft: [], value: [], cover: [] };
  const grow = (level: number): number => {
    const n = d.feature.length;
    d.feature.push(-1);
    d.threshold.push(0);
    d.left.push(-1);
    d.right.push(-1);
    d.missingLeft.push(0);
    d.value.push(0);
    d.cover.push(0);
    if (level >= depth || (level > 0 && rng.chance(0.12))) {
      d.value[n] = Math.fround(rng.uniform(-0.3, 0.3));
      d.cover[n] = rng.uniform(0.5, 50);
      return n;
    }
    d.feature[n] = rng.int(featureCount);
    d.threshold[n] = randomThreshold(rng, edgeRate);
    d.missingLeft[n] = rng.chance(0.5) ? 1 : 0;
    const l = grow(level + 1);
    const r = grow(level + 1);
    d.left[n] = l;
    d.right[n] = r;
    d.cover[n] = d.cover[l]! + d.cover[r]!;
    d.value[n] = (d.cover[l]! * d.value[l]! + d.cover[r]! * d.value[r]!) / d.cover[n]!;
    return n;
  };
  grow(0);
  return d;
}

/** Half the trees get their non-root nodes shuffled: the format must not rely on preorder. */
function permute(d: Draft, rng: Rng): Tree {
  const size = d.feature.length;
  if (size < 3 || rng.chance(0.5)) return d;
  const order = Array.from({ length: size - 1 }, (_, i) => i + 1);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const oldToNew = new Array<number>(size);
  oldToNew[0] = 0;
  order.forEach((old, i) => (oldToNew[old] = i + 1));
  const out: Draft = { feature: [], threshold: [], left: [], right: [], missingLeft: [], value: [], cover: [] };
  const newToOld = [0, ...order];
  for (const old of newToOld) {
    const leaf = d.feature[old] === -1;
    out.feature.push(d.feature[old]!);
    out.threshold.push(d.threshold[old]!);
    out.left.push(leaf ? -1 : oldToNew[d.left[old]!]!);
    out.right.push(leaf ? -1 : oldToNew[d.right[old]!]!);
    out.missingLeft.push(d.missingLeft[old]!);
    out.value.push(d.value[old]!);
    out.cover.push(d.cover[old]!);
  }
  return out;
}

/** Each feature's thresholds in the model, so rows can land exactly on them. */
export function thresholdsByFeature(model: TreeEnsemble): number[][] {
  const out = Array.from({ length: model.featureCount }, () => [] as number[]);
  for (const tree of model.trees) {
    tree.feature.forEach((f, n) => {
      if (f >= 0) out[f]!.push(tree.threshold[n]!);
    });
  }
  return out;
}

export interface RandomRowsOptions {
  readonly nanRate?: number;
  /** Chance a value is exactly one of the model's thresholds on that feature. */
  readonly onThresholdRate?: number;
  /** Chance a value is one float32 step above or below such a threshold. */
  readonly besideThresholdRate?: number;
  readonly edgeRate?: number;
}

/** `count` rows, row-major float32. */
export function randomRows(model: TreeEnsemble, seed: number, count: number, options: RandomRowsOptions = {}): Float32Array {
  const rng = new Rng(seed);
  const { nanRate = 0.1, onThresholdRate = 0.3, besideThresholdRate = 0.1, edgeRate = 0.05 } = options;
  const byFeature = thresholdsByFeature(model);
  const F = model.featureCount;
  const rows = new Float32Array(count * F);
  for (let i = 0; i < count; i++) {
    for (let f = 0; f < F; f++) {
      const ths = byFeature[f]!;
      const u = rng.next();
      let v: number;
      if (u < nanRate) v = NaN;
      else if (ths.length > 0 && u < nanRate + onThresholdRate) v = rng.pick(ths);
      else if (ths.length > 0 && u < nanRate + onThresholdRate + besideThresholdRate) {
        const t = rng.pick(ths);
        v = Number.isFinite(t) ? (rng.chance(0.5) ? nextUp(t) : nextDown(t)) : t;
      } else if (u < nanRate + onThresholdRate + besideThresholdRate + edgeRate) v = rng.pick(FLOAT32_EDGES);
      else v = rng.normal() * rng.pick([1e-3, 1, 100, 1e6]);
      rows[i * F + f] = v;
    }
  }
  return rows;
}

/**
 * A hand-built two-tree ensemble over three features (the third unused) whose numbers are easy
 * to follow; values are dyadic, so every sum below is exact:
 *   tree 0: f0 < 1 (NaN → left) ? −0.25 : 0.5                     root value 0.125
 *   tree 1: f1 < 0 (NaN → right) ? −0.5 : (f0 < 3 (NaN → left) ? 0.25 : 0.75)
 *           node values: root 1/6, the f0 split 0.5
 *   baseMargin −1, so expectedMargin = −1 + 0.125 + 1/6.
 */
export function twoTreeEnsemble(): TreeEnsemble {
  return {
    featureCount: 3,
    baseMargin: -1,
    trees: [
      { feature: [0, -1, -1], threshold: [1, 0, 0], left: [1, -1, -1], right: [2, -1, -1], missingLeft: [1, 0, 0], value: [0.125, -0.25, 0.5], cover: [8, 4, 4] },
      {
        feature: [1, -1, 0, -1, -1],
        threshold: [0, 0, 3, 0, 0],
        left: [1, -1, 3, -1, -1],
        right: [2, -1, 4, -1, -1],
        missingLeft: [0, 0, 1, 0, 0],
        value: [1 / 6, -0.5, 0.5, 0.25, 0.75],
        cover: [6, 2, 4, 2, 2],
      },
    ],
  };
}
