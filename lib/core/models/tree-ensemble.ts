// The trained model as plain data: what the trainer produces, the ONNX exporter writes, the
// checkpoint stores and the reason-code method walks. Numbers follow float32 semantics wherever
// onnxruntime does (inputs, thresholds, leaf values) so the trainer's own predictions and
// onnxruntime's agree to ~1e-6: see `predictMargin`.

/**
 * One binary tree in flat arrays; node 0 is the root. A row goes to `left[n]` when
 * `x[feature[n]] < threshold[n]` (ONNX BRANCH_LT), or when the value is NaN and `missingLeft[n]`
 * is 1; otherwise to `right[n]`. Leaves have `feature[n] === -1`, and `value[n]` is their output
 * (learning rate already applied, float32-representable). For every node, `value[n]` of an
 * internal node is its cover-weighted mean output and `cover[n]` its hessian sum: the
 * reason-code method needs both.
 */
export interface Tree {
  readonly feature: readonly number[];
  readonly threshold: readonly number[];
  readonly left: readonly number[];
  readonly right: readonly number[];
  readonly missingLeft: readonly (0 | 1)[];
  readonly value: readonly number[];
  readonly cover: readonly number[];
}

/** A binary classifier: probability = sigmoid(baseMargin + Σ tree outputs). */
export interface TreeEnsemble {
  /** Number of input columns; every `feature[n]` is below it. */
  readonly featureCount: number;
  /** Log-odds prior, float32-representable. */
  readonly baseMargin: number;
  readonly trees: readonly Tree[];
}

/** The leaf a row reaches in one tree. `x` must already hold float32-rounded values. */
export function leafOf(tree: Tree, x: ArrayLike<number>): number {
  let n = 0;
  while (tree.feature[n]! >= 0) {
    const v = x[tree.feature[n]!]!;
    const goLeft = Number.isNaN(v) ? tree.missingLeft[n] === 1 : v < tree.threshold[n]!;
    n = goLeft ? tree.left[n]! : tree.right[n]!;
  }
  return n;
}

/**
 * Raw margin (log-odds) of one row, exactly as onnxruntime's TreeEnsemble computes it for a float
 * tensor: inputs rounded to float32, comparisons in float32, and the sum accumulated in float32.
 */
export function predictMargin(model: TreeEnsemble, row: ArrayLike<number>): number {
  const x = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) x[i] = row[i]!;
  let sum = 0;
  for (const tree of model.trees) sum = Math.fround(sum + tree.value[leafOf(tree, x)]!);
  return Math.fround(sum + model.baseMargin);
}

export const sigmoid = (margin: number): number => 1 / (1 + Math.exp(-margin));

/** Probability of the positive class for one row. */
export const predictProbability = (model: TreeEnsemble, row: ArrayLike<number>): number => sigmoid(predictMargin(model, row));
