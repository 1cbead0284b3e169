// Checks that a TreeEnsemble is one onnxruntime will evaluate exactly as `predictMargin` does,
// before anything is written: a malformed tree would otherwise surface as an opaque onnxruntime
// load error, or worse, load and score differently.
import { ValidationError } from '../errors';
import type { Tree, TreeEnsemble } from '../models/tree-ensemble';

const isFloat32 = (x: number): boolean => Object.is(Math.fround(x), x);

const TREE_FIELDS = ['feature', 'threshold', 'left', 'right', 'missingLeft', 'value', 'cover'] as const;

/** Throws a ValidationError naming the field (e.g. `model.trees[3].left[7]`) at fault. */
export function validateEnsemble(model: TreeEnsemble): void {
  if (!Number.isInteger(model.featureCount) || model.featureCount < 1) {
    throw new ValidationError(`model.featureCount: must be a positive integer, got ${model.featureCount}`, 'model.featureCount');
  }
  if (!Number.isFinite(model.baseMargin) || !isFloat32(model.baseMargin)) {
    throw new ValidationError(`model.baseMargin: must be a finite float32 value, got ${model.baseMargin}`, 'model.baseMargin');
  }
  if (!Array.isArray(model.trees) || model.trees.length === 0) {
    throw new ValidationError('model.trees: an ensemble needs at least one tree', 'model.trees');
  }
  model.trees.forEach((tree, t) => validateTree(tree, `model.trees[${t}]`, model.featureCount));
}

function validateTree(tree: Tree, at: string, featureCount: number): void {
  const size = tree.feature?.length;
  if (!Number.isInteger(size) || size < 1) throw new ValidationError(`${at}.feature: a tree needs at least one node`, `${at}.feature`);
  for (const field of TREE_FIELDS) {
    const arr: readonly number[] | undefined = tree[field];
    if (arr?.length !== size) {
      throw new ValidationError(`${at}.${field}: has ${arr?.length ?? 'no'} entries, feature has ${size}`, `${at}.${field}`);
    }
  }
  const fail = (field: string, n: number, why: string): never => {
    throw new ValidationError(`${at}.${field}[${n}]: ${why}`, `${at}.${field}[${n}]`);
  };
  for (let n = 0; n < size; n++) {
    const f = tree.feature[n]!;
    const cover = tree.cover[n]!;
    if (!Number.isFinite(tree.value[n]!)) fail('value', n, `must be finite, got ${tree.value[n]}`);
    if (!Number.isFinite(cover) || cover < 0) fail('cover', n, `must be finite and non-negative, got ${cover}`);
    if (f === -1) {
      // A leaf's value is what onnxruntime adds (target_weights are float32), so it must be one.
      if (!isFloat32(tree.value[n]!)) fail('value', n, `a leaf value must be float32-representable, got ${tree.value[n]}`);
      continue;
    }
    if (!Number.isInteger(f) || f < 0 || f >= featureCount) fail('feature', n, `must be -1 (leaf) or an integer in [0, ${featureCount}), got ${f}`);
    const th = tree.threshold[n]!;
    // A threshold between two float32 values would be rounded by the export, moving rows that
    // equal the rounded value to the other side; requiring float32 makes that impossible.
    if (Number.isNaN(th) || !isFloat32(th)) fail('threshold', n, `must be a float32-representable number, got ${th}`);
    for (const side of ['left', 'right'] as const) {
      const c = tree[side][n]!;
      if (!Number.isInteger(c) || c < 0 || c >= size) fail(side, n, `must be a node index in [0, ${size}), got ${c}`);
    }
    const m = tree.missingLeft[n];
    if (m !== 0 && m !== 1) fail('missingLeft', n, `must be 0 or 1, got ${String(m)}`);
  }
  checkShape(tree, at, size);
}

/** Every node reached exactly once from the root: no cycle, no shared child, nothing stranded. */
function checkShape(tree: Tree, at: string, size: number): void {
  const seen = new Uint8Array(size);
  const stack = [0];
  seen[0] = 1;
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (tree.feature[n] === -1) continue;
    for (const side of ['left', 'right'] as const) {
      const c = tree[side][n]!;
      if (seen[c]) {
        throw new ValidationError(`${at}.${side}[${n}]: node ${c} is reached twice (a cycle or a shared child)`, `${at}.${side}[${n}]`);
      }
      seen[c] = 1;
      stack.push(c);
    }
  }
  const stranded = seen.indexOf(0);
  if (stranded >= 0) throw new ValidationError(`${at}.feature[${stranded}]: node ${stranded} is not reachable from the root`, `${at}.feature[${stranded}]`);
}
