// The SageMaker training-job contract around runTrainingJob. SageMaker mounts
//   <root>/input/config/hyperparameters.json   every value a string (SageMaker stringifies them)
//   <root>/input/data/<channel>/                one folder per input channel; ours is `train`
//   <root>/checkpoints/                         synced with S3; present again after a spot restart
// and collects <root>/model/ (the package) and <root>/output/failure (why a job failed).
// `root` is /opt/ml in the container and a temporary folder in tests.
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { ConfigError, ValidationError } from '../core/errors';
import { TrainParamsSchema } from '../core/training';
import { runTrainingJob, type TrainingJobProgress, type TrainingJobResult } from './training-job';

export const DEFAULT_SAGEMAKER_ROOT = '/opt/ml';
export const TRAIN_CHANNEL = 'train';

/** Hyperparameters that are not trainer params but job settings. */
const JOB_KEYS = ['name', 'version', 'tier', 'validation', 'holdout', 'target_fpr'] as const;
type JobKey = (typeof JOB_KEYS)[number];

export interface SageMakerTrainingOptions {
  readonly root?: string;
  readonly shouldStop?: () => boolean;
  readonly onProgress?: (e: TrainingJobProgress) => void;
  readonly now?: () => Date;
}

export type SageMakerTrainingOutcome = { readonly ok: true; readonly result: TrainingJobResult } | { readonly ok: false; readonly reason: string };

/** Runs one job; never throws for a job failure — it writes `output/failure` and answers ok: false. */
export async function runSageMakerTraining(options: SageMakerTrainingOptions = {}): Promise<SageMakerTrainingOutcome> {
  const root = options.root ?? DEFAULT_SAGEMAKER_ROOT;
  try {
    const hyper = await readHyperparameters(join(root, 'input', 'config', 'hyperparameters.json'));
    const { params, job } = splitHyperparameters(hyper);
    const dataPath = await channelFile(join(root, 'input', 'data', TRAIN_CHANNEL));
    const checkpointDir = join(root, 'checkpoints');
    await mkdir(checkpointDir, { recursive: true });
    const result = await runTrainingJob({
      dataPath,
      outDir: join(root, 'model'),
      params,
      name: job.name,
      version: job.version,
      tier: job.tier,
      validationFraction: numberOf(job, 'validation'),
      holdoutFraction: numberOf(job, 'holdout'),
      targetFpr: numberOf(job, 'target_fpr'),
      checkpointDir,
      shouldStop: options.shouldStop,
      onProgress: options.onProgress,
      now: options.now,
    });
    return { ok: true, result };
  } catch (error) {
    const field = error instanceof ValidationError || error instanceof ConfigError ? ` (${error.field})` : '';
    const reason = `${error instanceof Error ? error.message : String(error)}${field}`;
    // SageMaker shows the first 1 KB of this file as the job's FailureReason.
    await mkdir(join(root, 'output'), { recursive: true });
    await writeFile(join(root, 'output', 'failure'), reason.slice(0, 1024));
    return { ok: false, reason };
  }
}

async function readHyperparameters(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    // A job started without hyperparameters trains with the defaults.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`hyperparameters.json is not valid JSON: ${(error as Error).message}`, 'hyperparameters');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ValidationError('hyperparameters.json must hold a JSON object', 'hyperparameters');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/** Trainer params get their types back from the schema; job keys stay strings; anything else is refused. */
function splitHyperparameters(hyper: Record<string, string>): { params: Record<string, unknown>; job: Partial<Record<JobKey, string>> } {
  const params: Record<string, unknown> = {};
  const job: Partial<Record<JobKey, string>> = {};
  const paramKeys = Object.keys(TrainParamsSchema.shape);
  for (const [key, value] of Object.entries(hyper)) {
    if ((JOB_KEYS as readonly string[]).includes(key)) job[key as JobKey] = value;
    else if (paramKeys.includes(key)) params[key] = value === 'balanced' ? value : toNumber(key, value);
    else throw new ConfigError(`hyperparameter ${key} is unknown (trainer params: ${paramKeys.join(', ')}; job: ${JOB_KEYS.join(', ')})`, key);
  }
  return { params, job };
}

function toNumber(key: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`hyperparameter ${key} must be a number (got "${value}")`, key);
  return n;
}

function numberOf(job: Partial<Record<JobKey, string>>, key: JobKey): number | undefined {
  const v = job[key];
  return v === undefined ? undefined : toNumber(key, v);
}

/** The channel's one data file (.jsonl, .ndjson or .parquet). */
async function channelFile(dir: string): Promise<string> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new ValidationError(`input channel "${TRAIN_CHANNEL}" is missing (${dir})`, `input.data.${TRAIN_CHANNEL}`);
  }
  const files = names.filter((n) => ['.jsonl', '.ndjson', '.parquet'].includes(extname(n).toLowerCase())).sort();
  if (files.length !== 1) {
    throw new ValidationError(`input channel "${TRAIN_CHANNEL}" must hold exactly one .jsonl or .parquet file (found ${files.length}: ${files.join(', ') || 'none'})`, `input.data.${TRAIN_CHANNEL}`);
  }
  return join(dir, files[0]!);
}
