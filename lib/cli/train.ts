// `fathom train`: training rows in, a model package out, with a progress display on stderr and a
// JSON summary as the last line of stdout.
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, ValidationError } from '../core/errors';
import { runTrainingJob, type TrainingJobOptions, type TrainingJobProgress } from '../adapters/training-job';
import { integerFlag, numberFlag, parseFlags, UsageError } from './args';

export const TRAIN_USAGE = `usage: fathom train --data FILE|DIR [options]
  --data FILE|DIR        training rows, .jsonl or .parquet (from \`fathom generate --training-rows\`), or a
                         training-set directory (from \`fathom training-set\`): its train, validation and
                         holdout files are used as they are and the package names the set's snapshots
  --out DIR              where model.onnx and manifest.json go (default .fathom/models/<name>/<version>)
  --name NAME            model name (default card-fraud)
  --version V            model version (default <UTC time>-<sha256 prefix of the ONNX bytes>)
  --tier T               serving tier written to the manifest (default cpu)
  --params JSON|FILE     hyperparameters as a JSON object, inline or in a file, e.g. '{"trees":300}'
  --trees N              shorthand for params.trees
  --seed S               shorthand for params.seed
  --validation F         share of rows for early stopping, taken before the holdout (default 0.15; files only)
  --holdout F            share of the latest rows for the final evaluation (default 0.15; files only)
  --target-fpr F         false positive rate on validation that sets the decision threshold (default 0.01)
  --checkpoint-dir DIR   write a checkpoint every params.checkpointEvery trees; resume from one found there
  -h, --help             this text
Ctrl-C stops after the current tree with a checkpoint (when --checkpoint-dir is set).
The last line of stdout is a JSON summary with the holdout metrics.`;

export interface TrainArgs {
  readonly job: Omit<TrainingJobOptions, 'onProgress' | 'shouldStop'>;
}

export function parseTrainArgs(argv: readonly string[]): TrainArgs | undefined {
  const v = parseFlags(argv, {
    data: { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    tier: { type: 'string' },
    params: { type: 'string' },
    trees: { type: 'string' },
    seed: { type: 'string' },
    validation: { type: 'string' },
    holdout: { type: 'string' },
    'target-fpr': { type: 'string' },
    'checkpoint-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  if (!v.data) throw new UsageError('--data is required', '--data');
  const params: Record<string, unknown> = v.params ? parseParams(v.params) : {};
  const trees = integerFlag('--trees', v.trees, 1);
  const seed = integerFlag('--seed', v.seed, 0, 0xffffffff);
  if (trees !== undefined) params.trees = trees;
  if (seed !== undefined) params.seed = seed;
  const name = v.name ?? 'card-fraud';
  return {
    job: {
      dataPath: v.data,
      outDir: v.out ?? '',
      params,
      name,
      version: v.version,
      tier: v.tier,
      validationFraction: numberFlag('--validation', v.validation),
      holdoutFraction: numberFlag('--holdout', v.holdout),
      targetFpr: numberFlag('--target-fpr', v['target-fpr']),
      checkpointDir: v['checkpoint-dir'],
    },
  };
}

function parseParams(value: string): Record<string, unknown> {
  const text = value.trimStart().startsWith('{') ? value : existsSync(value) ? readFileSync(value, 'utf8') : undefined;
  if (text === undefined) throw new UsageError(`--params must be a JSON object or a file holding one (no file "${value}")`, '--params');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--params is not valid JSON: ${(error as Error).message}`, '--params');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--params must be a JSON object', '--params');
  return parsed as Record<string, unknown>;
}

/** One progress line per phase, and a redrawn (terminal) or periodic (pipe) line while trees grow. */
function progressPrinter(): (e: TrainingJobProgress) => void {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let last = 0;
  const line = (text: string) => process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
  const end = () => tty && process.stderr.write('\n');
  return (e) => {
    const now = performance.now();
    switch (e.phase) {
      case 'reading':
        if (now - last > (tty ? 100 : 5000)) line(`train: read ${e.rows.toLocaleString('en-US')} rows`);
        last = now;
        return;
      case 'split':
        end();
        process.stderr.write(`train: split by event time: ${e.train} train, ${e.validation} validation, ${e.holdout} holdout\n`);
        return;
      case 'resumed':
        process.stderr.write(`train: resuming from a checkpoint at tree ${e.iteration}\n`);
        return;
      case 'training': {
        const p = e.progress;
        if (now - last < (tty ? 100 : 5000) && p.iteration !== p.trees) return;
        last = now;
        const valid = p.validLoss === undefined ? '' : ` valid ${p.validLoss.toFixed(5)} (best ${p.bestValidLoss?.toFixed(5)} @ ${p.bestIteration})`;
        line(`train: tree ${p.iteration}/${p.trees}  loss ${p.trainLoss.toFixed(5)}${valid}  ${((now - started) / 1000).toFixed(1)} s`);
        return;
      }
      case 'checkpoint':
        return;
      case 'evaluating':
        end();
        process.stderr.write('train: evaluating on the holdout and exporting ONNX\n');
        return;
      case 'written':
        process.stderr.write(`train: wrote ${e.dir}\n`);
        return;
    }
  };
}

export async function runTrain(argv: string[]): Promise<void> {
  let args: TrainArgs | undefined;
  try {
    args = parseTrainArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom train: ${error.message}\n${TRAIN_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (!args) {
    process.stdout.write(`${TRAIN_USAGE}\n`);
    return;
  }
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('\ntrain: stopping after the current tree (Ctrl-C again to abort)\n');
  };
  process.on('SIGINT', onSignal);
  try {
    const job = args.job;
    const result = await runTrainingJob({
      ...job,
      outDir: job.outDir || `.fathom/models/.pending-${process.pid}`,
      onProgress: progressPrinter(),
      shouldStop: () => stopping,
    }).catch((error: unknown) => {
      // A bad hyperparameter is the user's input: name it as a flag-level problem.
      if (error instanceof ConfigError) throw new ValidationError(`params.${error.field}: ${error.message}`, `--params.${error.field}`);
      throw error;
    });
    if (result.status === 'interrupted') {
      process.stdout.write(`${JSON.stringify({ status: 'interrupted', trees: result.iteration, checkpoint: result.checkpoint ?? null, seconds: round(result.seconds) })}\n`);
      process.exitCode = 130;
      return;
    }
    let dir = result.dir;
    if (!job.outDir) dir = await moveToVersionDir(result.dir, result.manifest.name, result.manifest.version);
    const m = result.manifest;
    const h = m.metrics.holdout;
    process.stdout.write(
      `${JSON.stringify({
        status: 'completed',
        name: m.name,
        version: m.version,
        out: dir,
        rows: result.rows,
        training_set: m.training_set,
        trees: result.result.model.trees.length,
        stop_reason: result.result.stopReason,
        resumed_from: result.resumedFrom,
        threshold: m.threshold,
        holdout: { roc_auc: h.roc_auc, pr_auc: h.pr_auc, recall_at_1pct_fpr: h.recall_at_1pct_fpr, log_loss: h.log_loss, ece: h.ece, rows: h.rows, positives: h.positives },
        seconds: round(result.seconds),
      })}\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
  }
}

const round = (s: number) => Math.round(s * 100) / 100;

/** Without --out the package lands in .fathom/models/<name>/<version>, known only once trained. */
async function moveToVersionDir(dir: string, name: string, version: string): Promise<string> {
  const { rename, mkdir, rm } = await import('node:fs/promises');
  const target = `.fathom/models/${name}/${version}`;
  await mkdir(`.fathom/models/${name}`, { recursive: true });
  await rm(target, { recursive: true, force: true });
  await rename(dir, target);
  return target;
}
