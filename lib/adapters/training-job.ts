// One training run from a file of training rows to a model package on disk: read, split by time,
// train (checkpointing, resuming), evaluate on the holdout, export ONNX, write the manifest. The
// CLI (`fathom train`) and the SageMaker training container both call `runTrainingJob`; they
// differ only in where paths come from and how progress is shown.
//
// The data may also be a point-in-time training-set directory (lib/adapters/training-set): its
// train / validation / holdout files are used as they are (the set fixes its splits), and the
// package's training_set names the set by its table snapshots and its manifest's sha256.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ValidationError } from '../core/errors';
import { referenceFeatureSet } from '../core/features';
import { holdoutMetrics, featureBaselines, scoreHistogram } from '../core/metrics';
import { DEFAULT_TARGET_FPR, thresholdAtFpr } from '../core/models/decision-threshold';
import { CPU_TIER, MANIFEST_FILE, MODEL_FILE, type UnsignedManifest } from '../core/models/manifest';
import { buildManifest, defaultVersion } from '../core/models/package-builder';
import { predictProbability, type TreeEnsemble } from '../core/models/tree-ensemble';
import { exportOnnx } from '../core/onnx/export';
import { parseTrainParams, splitByTime, trainAsync, type TimeSplit, type TrainCheckpoint, type TrainingMatrix, type TrainParams, type TrainProgress, type TrainResult } from '../core/training';
import { readTrainingRows } from './training-rows-file';
// The read side only: the training container is bundled, and the builder's DuckDB must stay out of it.
import { isTrainingSetDir, readTrainingSet } from './training-set/read';

export const CHECKPOINT_FILE = 'gbdt-checkpoint.json';
const INPUT_NAME = 'features';
const OUTPUT_NAME = 'score';

export interface TrainingJobOptions {
  /**
   * A JSONL or Parquet file of training rows (lib/core/schemas/training-row.ts), or a training-set
   * directory (`fathom training-set`), whose splits are used as they are.
   */
  readonly dataPath: string;
  /** Where model.onnx and manifest.json are written (created if absent). */
  readonly outDir: string;
  /** Hyperparameters (lib/core/training/params.ts); unknown keys are refused. */
  readonly params?: unknown;
  readonly name?: string;
  readonly version?: string;
  readonly tier?: string;
  /** Shares of the latest rows for early stopping and for the holdout (default 0.15 each); a file only. */
  readonly validationFraction?: number;
  readonly holdoutFraction?: number;
  /** False positive rate budget on validation that sets the decision threshold (default 0.01). */
  readonly targetFpr?: number;
  /** Checkpoints are written here every `checkpointEvery` trees, and a run resumes from one found here. */
  readonly checkpointDir?: string;
  /** Polled after every tree: true ends the run early with a checkpoint (a spot interruption). */
  readonly shouldStop?: () => boolean;
  readonly onProgress?: (event: TrainingJobProgress) => void;
  /** Injected for reproducible manifests in tests; default: now. */
  readonly now?: () => Date;
}

export type TrainingJobProgress =
  | { readonly phase: 'reading'; readonly rows: number }
  | { readonly phase: 'split'; readonly train: number; readonly validation: number; readonly holdout: number }
  | { readonly phase: 'resumed'; readonly iteration: number }
  | { readonly phase: 'training'; readonly progress: TrainProgress }
  | { readonly phase: 'checkpoint'; readonly iteration: number; readonly path: string }
  | { readonly phase: 'evaluating' }
  | { readonly phase: 'written'; readonly dir: string };

export type TrainingJobResult =
  | { readonly status: 'interrupted'; readonly iteration: number; readonly checkpoint: string | undefined; readonly seconds: number }
  | {
      readonly status: 'completed';
      readonly manifest: UnsignedManifest;
      readonly dir: string;
      readonly result: TrainResult;
      readonly rows: { readonly train: number; readonly validation: number; readonly holdout: number };
      readonly resumedFrom: number | null;
      readonly seconds: number;
    };

export async function runTrainingJob(options: TrainingJobOptions): Promise<TrainingJobResult> {
  const started = performance.now();
  const report = options.onProgress ?? (() => {});
  const params: TrainParams = parseTrainParams(options.params ?? {});
  const name = options.name ?? 'card-fraud';
  const tier = options.tier ?? CPU_TIER;

  const { data, split, trainingSet } = await loadData(options, report);
  const featureSet = featureSetOf(data);
  if (split.holdout.rows === 0) throw new ValidationError('holdout: no rows fall in the holdout span; raise --holdout (when building the training set, for a set) or supply more data', 'holdout');
  report({ phase: 'split', train: split.train.rows, validation: split.validation.rows, holdout: split.holdout.rows });

  const checkpointPath = options.checkpointDir ? join(options.checkpointDir, CHECKPOINT_FILE) : undefined;
  const resumeFrom = checkpointPath ? await readCheckpoint(checkpointPath) : undefined;
  const resumedFrom = resumeFrom ? iterationOf(resumeFrom) : null;
  if (resumedFrom !== null) report({ phase: 'resumed', iteration: resumedFrom });

  let lastCheckpoint: { iteration: number; write: Promise<void> } | undefined;
  const result = await trainAsync({ train: split.train, validation: split.validation.rows > 0 ? split.validation : undefined }, params, {
    resumeFrom,
    shouldStop: options.shouldStop,
    onProgress: (progress) => report({ phase: 'training', progress }),
    onCheckpoint: checkpointPath
      ? (c: TrainCheckpoint) => {
          // Writes are chained so an older checkpoint can never land after a newer one.
          const previous = lastCheckpoint?.write ?? Promise.resolve();
          const iteration = iterationOf(c);
          const write = previous.then(() => writeAtomically(checkpointPath, JSON.stringify(c))).then(() => report({ phase: 'checkpoint', iteration, path: checkpointPath }));
          lastCheckpoint = { iteration, write };
        }
      : undefined,
  });
  await lastCheckpoint?.write;
  if (result.stopReason === 'interrupted') {
    return { status: 'interrupted', iteration: result.treesBuilt, checkpoint: checkpointPath, seconds: (performance.now() - started) / 1000 };
  }

  report({ phase: 'evaluating' });
  // The trainer's own predictions: the ONNX parity test holds onnxruntime to these within 1e-5.
  const holdoutScores = scoresOf(result.model, split.holdout);
  const validationScores = split.validation.rows > 0 ? scoresOf(result.model, split.validation) : undefined;
  const holdout = holdoutMetrics(holdoutScores, split.holdout.label);
  const validation = validationScores && hasBothClasses(split.validation.label) ? holdoutMetrics(validationScores, split.validation.label) : undefined;
  // The threshold comes from validation so the holdout stays unseen; without validation, from training rows.
  const threshold = validation
    ? thresholdAtFpr(validationScores!, split.validation.label, options.targetFpr ?? DEFAULT_TARGET_FPR)
    : thresholdAtFpr(scoresOf(result.model, split.train), split.train.label, options.targetFpr ?? DEFAULT_TARGET_FPR);

  const onnx = exportOnnx(result.model, { features: data.features, inputName: INPUT_NAME, outputName: OUTPUT_NAME });
  const onnxSha256 = createHash('sha256').update(onnx).digest('hex');
  const createdAt = (options.now?.() ?? new Date()).toISOString();
  const manifest = buildManifest({
    name,
    version: options.version ?? defaultVersion(createdAt, onnxSha256),
    createdAt,
    featureSet,
    features: data.features,
    threshold,
    tier,
    trainingSet,
    holdout,
    validation,
    // Baselines describe the newest data the model was judged on: what live traffic should resemble at promotion.
    featureBaselines: featureBaselines(split.holdout),
    scoreBaseline: scoreHistogram(holdoutScores),
    trainer: {
      name: 'fathom-gbdt',
      params: result.params,
      positive_weight: result.positiveWeight,
      trees: result.model.trees.length,
      trees_built: result.treesBuilt,
      best_iteration: result.bestIteration,
      stop_reason: result.stopReason,
      target_fpr: options.targetFpr ?? DEFAULT_TARGET_FPR,
      split: { train: split.train.rows, validation: split.validation.rows, holdout: split.holdout.rows, validation_from: iso(split.validationFrom), holdout_from: iso(split.holdoutFrom) },
    },
    onnxSha256,
    inputName: INPUT_NAME,
    outputName: OUTPUT_NAME,
  });

  await mkdir(options.outDir, { recursive: true });
  await writeAtomically(join(options.outDir, MODEL_FILE), onnx);
  await writeAtomically(join(options.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  report({ phase: 'written', dir: options.outDir });
  // A finished run must not resume from its own checkpoint next time.
  if (checkpointPath) await rm(checkpointPath, { force: true });
  return {
    status: 'completed',
    manifest,
    dir: options.outDir,
    result,
    rows: { train: split.train.rows, validation: split.validation.rows, holdout: split.holdout.rows },
    resumedFrom,
    seconds: (performance.now() - started) / 1000,
  };
}

interface LoadedData {
  /** Every row's columns (for the feature-set check); `rows` counts all splits. */
  readonly data: Pick<TrainingMatrix, 'features' | 'rows'>;
  readonly split: TimeSplit;
  readonly trainingSet: { readonly snapshotId: string; readonly rows: number; readonly sha256: string };
}

/** The rows and their split: a training-set directory's own splits, or a rows file split by time here. */
async function loadData(options: TrainingJobOptions, report: (event: TrainingJobProgress) => void): Promise<LoadedData> {
  if (await isTrainingSetDir(options.dataPath)) {
    for (const [field, value] of [['validation', options.validationFraction], ['holdout', options.holdoutFraction]] as const) {
      if (value !== undefined) throw new ValidationError(`${field}: ${options.dataPath} is a training set, whose splits are fixed when it is built; drop --${field}`, field);
    }
    const perSplit: Record<string, number> = {};
    const set = await readTrainingSet(options.dataPath, {
      onProgress: (name, rows) => {
        perSplit[name] = rows;
        report({ phase: 'reading', rows: Object.values(perSplit).reduce((a, b) => a + b, 0) });
      },
    });
    const expected = `${referenceFeatureSet.name}.v${referenceFeatureSet.version}`;
    if (set.manifest.feature_set !== expected) {
      throw new ValidationError(`data.manifest.feature_set: the set is of ${set.manifest.feature_set}, the trainer's features are ${expected}`, 'data.manifest.feature_set');
    }
    const { train, validation, holdout } = set.splits;
    const read = train.rows + validation.rows + holdout.rows;
    return {
      data: { features: set.manifest.features, rows: read },
      split: {
        train,
        validation,
        holdout,
        validationFrom: validation.rows > 0 ? validation.eventTime[0]! : null,
        holdoutFrom: holdout.rows > 0 ? holdout.eventTime[0]! : null,
      },
      trainingSet: { snapshotId: set.manifest.id, rows: read, sha256: set.manifestSha256 },
    };
  }
  const bytes = await readFile(options.dataPath).catch((error: NodeJS.ErrnoException) => {
    throw new ValidationError(`${options.dataPath}: ${error.code === 'ENOENT' ? 'no such file' : error.code === 'EISDIR' ? 'a directory without a training-set manifest.json' : error.message}`, 'data');
  });
  const dataSha256 = createHash('sha256').update(bytes).digest('hex');
  const data = await readTrainingRows(options.dataPath, { onProgress: (rows) => report({ phase: 'reading', rows }) });
  report({ phase: 'reading', rows: data.rows });
  return {
    data,
    split: splitByTime(data, { validation: options.validationFraction, holdout: options.holdoutFraction }),
    // A file outside the offline store is identified by its name and bytes.
    trainingSet: { snapshotId: `file:${basename(options.dataPath)}`, rows: data.rows, sha256: dataSha256 },
  };
}

/** The reference feature set's id when the columns are exactly its features; anything else is refused. */
function featureSetOf(data: Pick<TrainingMatrix, 'features'>): string {
  const expected = referenceFeatureSet.features.map((f) => f.name);
  for (let j = 0; j < Math.max(expected.length, data.features.length); j++) {
    if (data.features[j] !== expected[j]) {
      const column = data.features[j] ?? `(column ${j + 1})`;
      throw new ValidationError(
        `data: column ${j + 1} is ${data.features[j] ?? 'missing'} but feature set ${referenceFeatureSet.name}.v${referenceFeatureSet.version} has ${expected[j] ?? 'no more features'} there`,
        `data.${column}`,
      );
    }
  }
  return `${referenceFeatureSet.name}.v${referenceFeatureSet.version}`;
}

function scoresOf(model: TreeEnsemble, m: TrainingMatrix): Float64Array {
  const f = m.features.length;
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) out[r] = predictProbability(model, m.x.subarray(r * f, (r + 1) * f));
  return out;
}

function hasBothClasses(label: Uint8Array): boolean {
  let p = 0;
  for (const y of label) p += y;
  return p > 0 && p < label.length;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function iterationOf(c: unknown): number {
  const trees = (c as { trees?: unknown[] }).trees;
  return Array.isArray(trees) ? trees.length : 0;
}

async function readCheckpoint(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${path}: checkpoint is not valid JSON (${(error as Error).message})`, 'checkpoint');
  }
}

/** Write to a temporary sibling, then rename: a reader (or a resumed run) never sees half a file. */
async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
