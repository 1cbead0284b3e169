// The reference trainer: histogram-based gradient-boosted trees with logistic loss.
//
// Each tree is a Newton step on the class-weighted log loss: gradients and hessians of every row
// (Float64), a row and column sample drawn from the tree's own seeded stream, a tree grown on the
// binned sample (tree-growth.ts), then every row's margin moves by its leaf's output. Margins are
// kept exactly as `predictMargin` computes them at serving time (tree outputs summed in float32,
// then the base margin added in float32), so the losses the run reports, and the iteration early
// stopping keeps, are those of the exported model itself.
import { ConfigError, ValidationError } from '../errors';
import { deriveSeed, Rng } from '../generator/prng';
import { canonicalJson } from '../models/manifest';
import type { Tree, TreeEnsemble } from '../models/tree-ensemble';
import { binMatrix, computeFeatureBins, type FeatureBins } from './binning';
import { CHECKPOINT_FORMAT, dataFingerprint, parseCheckpoint, type TrainCheckpoint, type TreeLoss } from './checkpoint';
import type { TrainingMatrix } from './matrix';
import { parseTrainParams, type TrainParams, type TrainParamsInput } from './params';
import { binnedTreeOf, leafOfBinned, TreeGrower, type BinnedRows, type BinnedTree } from './tree-growth';

/** Seed stream of tree t's samples: deriveSeed(seed, TREE_STREAM, t). */
const TREE_STREAM = 0x74726565;
/** Hessian floor: a row the model is certain about still weighs a little, so H never reaches 0. */
const MIN_ROW_HESS = 1e-16;

export interface TrainData {
  readonly train: TrainingMatrix;
  /** Rows for early stopping (later in time than `train`); absent or empty = no early stopping. */
  readonly validation?: TrainingMatrix;
}

export interface TrainProgress {
  /** Trees built so far. */
  readonly iteration: number;
  /** Trees the run builds at most. */
  readonly trees: number;
  readonly trainLoss: number;
  readonly validLoss?: number;
  readonly bestIteration: number;
  readonly bestValidLoss: number | null;
}

/** One tree as training assigned it: `trainLeaves[r]` is the leaf training row r reached. */
export interface TreeBuilt {
  readonly iteration: number;
  readonly tree: Tree;
  readonly trainLeaves: Int32Array;
}

export interface TrainOptions {
  /** After every tree: for a progress display. */
  readonly onProgress?: (p: TrainProgress) => void;
  /** Every `checkpointEvery` trees and on interruption; the object is JSON-safe and not reused. */
  readonly onCheckpoint?: (c: TrainCheckpoint) => void;
  /** A checkpoint of a run on the same data and params (parsed again here: JSON may have carried it). */
  readonly resumeFrom?: unknown;
  /** Polled after every tree; true ends the run with a checkpoint and stopReason `interrupted`. */
  readonly shouldStop?: () => boolean;
  /** After every tree, with each training row's leaf: for audits and tests of the binning. */
  readonly onTree?: (t: TreeBuilt) => void;
}

export type StopReason = 'completed' | 'early_stopped' | 'interrupted';

export interface TrainResult {
  /** The ensemble truncated to `bestIteration` trees. */
  readonly model: TreeEnsemble;
  readonly bestIteration: number;
  readonly bestValidLoss: number | null;
  readonly treesBuilt: number;
  readonly stopReason: StopReason;
  /** Losses after every tree built (one entry per tree, including those past the best). */
  readonly history: readonly TreeLoss[];
  readonly params: TrainParams;
  /** The weight positives had (`balanced` resolved on the training rows). */
  readonly positiveWeight: number;
}

function checkMatrix(m: TrainingMatrix, field: string): void {
  const f = m.features.length;
  if (f < 1) throw new ValidationError(`${field}.features: at least one feature is needed`, `${field}.features`);
  if (!Number.isSafeInteger(m.rows) || m.rows < 0) throw new ValidationError(`${field}.rows: must be a non-negative integer`, `${field}.rows`);
  if (m.x.length !== m.rows * f) throw new ValidationError(`${field}.x: expected ${m.rows * f} values (rows × features), got ${m.x.length}`, `${field}.x`);
  if (m.label.length !== m.rows) throw new ValidationError(`${field}.label: expected ${m.rows} labels, got ${m.label.length}`, `${field}.label`);
  for (let r = 0; r < m.rows; r++) {
    if (m.label[r]! > 1) throw new ValidationError(`${field}.label[${r}]: must be 0 or 1`, `${field}.label`);
  }
}

/**
 * Class-weighted mean log loss of margins fround(treeSum + base), filling `prob` with each row's
 * P(positive) when given: one exp and one log1p per row serve both the loss and the next tree's
 * gradients. softplus(z) = max(z, 0) + log1p(exp(−|z|)) stays finite for any margin.
 */
function lossAndProbabilities(treeSum: Float32Array, base: number, label: Uint8Array, positiveWeight: number, prob?: Float64Array): number {
  let loss = 0;
  let weight = 0;
  for (let r = 0; r < treeSum.length; r++) {
    const m = Math.fround(treeSum[r]! + base);
    const e = Math.exp(-Math.abs(m));
    const l = Math.log1p(e);
    if (prob) prob[r] = m >= 0 ? 1 / (1 + e) : e / (1 + e);
    if (label[r] === 1) {
      loss += positiveWeight * (m >= 0 ? l : l - m);
      weight += positiveWeight;
    } else {
      loss += m >= 0 ? m + l : l;
      weight += 1;
    }
  }
  return weight > 0 ? loss / weight : 0;
}

/** Params equal but for how often checkpoints are taken, which does not change the model. */
function sameRun(a: TrainParams, b: TrainParams): boolean {
  return canonicalJson({ ...a, checkpointEvery: 0 }) === canonicalJson({ ...b, checkpointEvery: 0 });
}

/** One training run, one tree per `step()`; `train` and `trainAsync` drive it. */
export class GbdtRun {
  readonly params: TrainParams;
  readonly positiveWeight: number;
  readonly baseMargin: number;
  private readonly features: readonly string[];
  private readonly bins: FeatureBins[];
  private readonly trainRows: BinnedRows;
  private readonly validRows: BinnedRows | undefined;
  private readonly grower: TreeGrower;
  private readonly label: Uint8Array;
  private readonly validLabel: Uint8Array | undefined;
  private readonly sumTrain: Float32Array;
  private readonly sumValid: Float32Array | undefined;
  private readonly grad: Float64Array;
  private readonly hess: Float64Array;
  /** P(positive) of every training row under the trees so far. */
  private readonly prob: Float64Array;
  private readonly sample: Uint32Array;
  private readonly fingerprint: string;
  private readonly trees: Tree[] = [];
  private readonly history: TreeLoss[] = [];
  private bestIteration = 0;
  private bestValidLoss: number | null = null;
  private roundsSinceBest = 0;
  private stopReason: StopReason | undefined;
  private lastCheckpoint = -1;

  constructor(
    data: TrainData,
    params: TrainParamsInput,
    private readonly options: TrainOptions = {},
  ) {
    this.params = parseTrainParams(params);
    const { train } = data;
    const validation = data.validation && data.validation.rows > 0 ? data.validation : undefined;
    checkMatrix(train, 'train');
    if (validation) {
      checkMatrix(validation, 'validation');
      if (canonicalJson(validation.features) !== canonicalJson(train.features)) {
        throw new ValidationError('validation.features: must equal the training features, in order', 'validation.features');
      }
    }
    let positives = 0;
    for (let r = 0; r < train.rows; r++) positives += train.label[r]!;
    const negatives = train.rows - positives;
    if (positives === 0 || negatives === 0) throw new ValidationError('train.label: both classes must occur in the training rows', 'train.label');
    this.positiveWeight = this.params.positiveWeight === 'balanced' ? negatives / positives : this.params.positiveWeight;
    this.baseMargin = Math.fround(Math.log((this.positiveWeight * positives) / negatives)) + 0;

    this.features = [...train.features];
    this.bins = computeFeatureBins(train, this.params.maxBins);
    const missingBin = Int32Array.from(this.bins, (b) => b.missingBin);
    this.trainRows = { rows: train.rows, codes: binMatrix(train, this.bins), missingBin };
    this.validRows = validation ? { rows: validation.rows, codes: binMatrix(validation, this.bins), missingBin } : undefined;
    this.label = train.label;
    this.validLabel = validation?.label;
    this.grower = new TreeGrower(this.trainRows, this.bins, this.params);
    this.sumTrain = new Float32Array(train.rows);
    this.sumValid = validation ? new Float32Array(validation.rows) : undefined;
    this.grad = new Float64Array(train.rows);
    this.hess = new Float64Array(train.rows);
    this.prob = new Float64Array(train.rows);
    this.sample = new Uint32Array(train.rows);
    this.fingerprint = dataFingerprint([train, validation]);
    if (options.resumeFrom !== undefined) this.resume(parseCheckpoint(options.resumeFrom), train.rows, validation?.rows ?? 0);
    lossAndProbabilities(this.sumTrain, this.baseMargin, this.label, this.positiveWeight, this.prob);
  }

  get done(): boolean {
    return this.stopReason !== undefined;
  }

  private resume(c: TrainCheckpoint, trainRows: number, validationRows: number): void {
    if (!sameRun(c.params, this.params)) throw new ConfigError('resumeFrom.params: the checkpoint was taken with other parameters', 'resumeFrom.params');
    if (canonicalJson(c.features) !== canonicalJson(this.features) || c.featureCount !== this.features.length) {
      throw new ValidationError('resumeFrom.features: the checkpoint was trained on other features', 'resumeFrom.features');
    }
    if (c.data.trainRows !== trainRows || c.data.validationRows !== validationRows || c.data.fingerprint !== this.fingerprint) {
      throw new ValidationError('resumeFrom.data: the checkpoint was trained on other rows', 'resumeFrom.data');
    }
    if (c.baseMargin !== this.baseMargin) throw new ValidationError('resumeFrom.baseMargin: does not match the data', 'resumeFrom.baseMargin');
    if (c.trees.length > this.params.trees) throw new ValidationError('resumeFrom.trees: more trees than the run builds', 'resumeFrom.trees');
    c.trees.forEach((tree, t) => {
      const binned = binnedTreeOf(tree, this.bins, `resumeFrom.trees.${t}`);
      this.addToSums(binned, this.trainRows, this.sumTrain);
      if (this.validRows && this.sumValid) this.addToSums(binned, this.validRows, this.sumValid);
      this.trees.push(tree);
    });
    this.history.push(...c.history);
    this.bestIteration = c.bestIteration;
    this.bestValidLoss = c.bestValidLoss;
    this.roundsSinceBest = c.roundsSinceBest;
    this.lastCheckpoint = c.trees.length;
    this.updateStop(false);
  }

  private addToSums(tree: BinnedTree, rows: BinnedRows, sums: Float32Array): void {
    for (let r = 0; r < rows.rows; r++) sums[r] = sums[r]! + tree.value[leafOfBinned(tree, rows, r)]!;
  }

  /** Builds the next tree; false once the run has stopped. */
  step(): boolean {
    if (this.stopReason !== undefined) return false;
    const p = this.params;
    const t = this.trees.length;
    const n = this.trainRows.rows;
    const rng = new Rng(deriveSeed(p.seed, TREE_STREAM, t));

    const f = this.features.length;
    const take = Math.max(1, Math.round(p.colSubsample * f));
    const order = Array.from({ length: f }, (_, i) => i);
    for (let i = 0; i < take; i++) {
      const j = i + rng.int(f - i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const columns = Int32Array.from(order.slice(0, take)).sort();

    let sampled = 0;
    if (p.rowSubsample < 1) {
      for (let r = 0; r < n; r++) if (rng.next() < p.rowSubsample) this.sample[sampled++] = r;
    }
    // An empty draw (tiny data, tiny rate) would grow nothing: fall back to every row.
    if (sampled === 0) {
      for (let r = 0; r < n; r++) this.sample[r] = r;
      sampled = n;
    }
    const rows = this.sample.subarray(0, sampled);

    const { grad, hess, label, sumTrain, baseMargin, positiveWeight, prob } = this;
    for (let r = 0; r < n; r++) {
      const w = label[r] === 1 ? positiveWeight : 1;
      grad[r] = w * (prob[r]! - label[r]!);
      hess[r] = w * Math.max(prob[r]! * (1 - prob[r]!), MIN_ROW_HESS);
    }

    const grown = this.grower.grow(rows, columns, grad, hess);
    const leaves = new Int32Array(n).fill(-1);
    for (const leaf of grown.leaves) for (let i = leaf.start; i < leaf.end; i++) leaves[rows[i]!] = leaf.node;
    const value = grown.binned.value;
    for (let r = 0; r < n; r++) {
      if (leaves[r]! < 0) leaves[r] = leafOfBinned(grown.binned, this.trainRows, r);
      sumTrain[r] = sumTrain[r]! + value[leaves[r]!]!;
    }
    if (this.validRows && this.sumValid) this.addToSums(grown.binned, this.validRows, this.sumValid);
    this.trees.push(grown.tree);

    const iteration = t + 1;
    const trainLoss = lossAndProbabilities(sumTrain, baseMargin, label, positiveWeight, prob);
    let entry: TreeLoss = { iteration, trainLoss };
    if (this.sumValid && this.validLabel) {
      const validLoss = lossAndProbabilities(this.sumValid, baseMargin, this.validLabel, positiveWeight);
      entry = { iteration, trainLoss, validLoss };
      // Without patience there is no early stopping: every tree is kept, validation only reported.
      if (p.earlyStoppingRounds === 0 || this.bestValidLoss === null || validLoss < this.bestValidLoss) {
        this.bestValidLoss = validLoss;
        this.bestIteration = iteration;
        this.roundsSinceBest = 0;
      } else this.roundsSinceBest++;
    } else this.bestIteration = iteration;
    this.history.push(entry);

    this.options.onTree?.({ iteration, tree: grown.tree, trainLeaves: leaves });
    this.options.onProgress?.({
      iteration,
      trees: p.trees,
      trainLoss,
      ...(entry.validLoss === undefined ? {} : { validLoss: entry.validLoss }),
      bestIteration: this.bestIteration,
      bestValidLoss: this.bestValidLoss,
    });
    if (p.checkpointEvery > 0 && iteration % p.checkpointEvery === 0) this.emitCheckpoint();
    this.updateStop(true);
    return this.stopReason === undefined;
  }

  private updateStop(poll: boolean): void {
    const p = this.params;
    if (this.trees.length >= p.trees) this.stopReason = 'completed';
    else if (this.validRows && p.earlyStoppingRounds > 0 && this.roundsSinceBest >= p.earlyStoppingRounds) this.stopReason = 'early_stopped';
    else if (poll && this.options.shouldStop?.() === true) {
      this.stopReason = 'interrupted';
      if (this.lastCheckpoint !== this.trees.length) this.emitCheckpoint();
    }
  }

  private emitCheckpoint(): void {
    this.lastCheckpoint = this.trees.length;
    this.options.onCheckpoint?.(this.checkpoint());
  }

  /** The run's state now, JSON-safe; resuming from it gives the uninterrupted run's model. */
  checkpoint(): TrainCheckpoint {
    return {
      format: CHECKPOINT_FORMAT,
      params: { ...this.params },
      features: [...this.features],
      data: { trainRows: this.trainRows.rows, validationRows: this.validRows?.rows ?? 0, fingerprint: this.fingerprint },
      featureCount: this.features.length,
      baseMargin: this.baseMargin,
      trees: [...this.trees],
      history: [...this.history],
      bestIteration: this.bestIteration,
      bestValidLoss: this.bestValidLoss,
      roundsSinceBest: this.roundsSinceBest,
    };
  }

  result(): TrainResult {
    return {
      model: { featureCount: this.features.length, baseMargin: this.baseMargin, trees: this.trees.slice(0, this.bestIteration) },
      bestIteration: this.bestIteration,
      bestValidLoss: this.bestValidLoss,
      treesBuilt: this.trees.length,
      stopReason: this.stopReason ?? 'interrupted',
      history: [...this.history],
      params: this.params,
      positiveWeight: this.positiveWeight,
    };
  }
}

/** Trains to completion, early stop or interruption, synchronously. */
export function train(data: TrainData, params: TrainParamsInput = {}, options: TrainOptions = {}): TrainResult {
  const run = new GbdtRun(data, params, options);
  while (run.step());
  return run.result();
}

/**
 * The same run, yielding to the event loop after every tree, so that a signal handler (a spot
 * interruption's SIGTERM) can set the flag `shouldStop` reads, and timers keep firing.
 */
export async function trainAsync(data: TrainData, params: TrainParamsInput = {}, options: TrainOptions = {}): Promise<TrainResult> {
  const run = new GbdtRun(data, params, options);
  while (run.step()) await new Promise<void>((resolve) => setTimeout(resolve, 0));
  return run.result();
}
