// Hyperparameters of the GBDT trainer: one zod schema holds the defaults and the ranges, so the
// CLI, the training container and the manifest's `trainer` record all read the same contract.
import { z } from 'zod';
import { ConfigError } from '../errors';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const TrainParamsSchema = z.strictObject({
  /** Boosting rounds at most (early stopping may keep fewer). */
  trees: int(1, 100_000).default(400),
  /** Depth limit of every tree; the root is depth 0. */
  maxDepth: int(1, 32).default(6),
  /**
   * Leaf limit: trees grow best-first (the leaf whose split gains most goes next) until either
   * limit binds. `2 ** maxDepth` or more gives the depth-wise tree.
   */
  maxLeaves: int(2, 1 << 20).default(31),
  /** Shrinkage applied to every leaf's Newton step. */
  learningRate: z.number().gt(0).max(1).default(0.1),
  /** L2 penalty λ on leaf weights: leaf = −G / (H + λ). */
  l2: z.number().min(0).max(1e6).default(1),
  /** Smallest hessian sum a child may hold (class weights included). */
  minChildWeight: z.number().min(0).max(1e9).default(1),
  /** Smallest loss reduction that justifies a split (γ). */
  minSplitGain: z.number().min(0).max(1e9).default(0),
  /** Share of training rows each tree sees, drawn per tree without replacement (Bernoulli). */
  rowSubsample: z.number().gt(0).max(1).default(0.8),
  /** Share of features each tree may split on, drawn per tree. */
  colSubsample: z.number().gt(0).max(1).default(0.8),
  /** Value bins per feature (quantile-based); NaN gets one more bin of its own. */
  maxBins: int(2, 255).default(255),
  /** Weight of a positive row relative to a negative one; `balanced` = negatives / positives. */
  positiveWeight: z.union([z.number().gt(0).max(1e6), z.literal('balanced')]).default(1),
  /**
   * Stop after this many trees without a better validation loss, keeping the trees up to the best;
   * 0 disables early stopping (every tree is kept, validation loss is only reported).
   */
  earlyStoppingRounds: int(0, 100_000).default(30),
  /** Seeds row and column sampling; same data, params and seed → the same model, bit for bit. */
  seed: int(0, 0xffffffff).default(42),
  /** Hand a checkpoint to `onCheckpoint` after every K trees; 0 = never. */
  checkpointEvery: int(0, 100_000).default(50),
});

export type TrainParams = z.output<typeof TrainParamsSchema>;
export type TrainParamsInput = z.input<typeof TrainParamsSchema>;

/** Fills defaults and checks ranges; throws a ConfigError naming the first bad parameter. */
export function parseTrainParams(input: unknown): TrainParams {
  const r = TrainParamsSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'params';
  const message = issue?.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}` : (issue?.message ?? 'invalid');
  throw new ConfigError(`${field}: ${message}`, issue?.code === 'unrecognized_keys' ? (issue.keys[0] ?? field) : field);
}
