// `fathom training-set`: a point-in-time training set from the offline store's feature_log and
// labels, written as train / validation / holdout Parquet files plus manifest.json, with progress
// on stderr and a JSON summary as the last line of stdout. `fathom train --data DIR` reads it.
import { join, resolve } from 'node:path';
import { ConfigError, ValidationError } from '../core/errors';
import type { SnapshotSelector } from '../core/iceberg';
import { platformResources } from '../core/resources';
import { parseInstant } from '../core/training-set';
import type { WarehouseOptions } from '../adapters/iceberg';
import { buildTrainingSet, type BuildTrainingSetOptions, type TrainingSetProgress } from '../adapters/training-set';
import { DEFAULT_DATA_DIR, WAREHOUSE_DIR } from '../local/stand-ins';
import { integerFlag, numberFlag, parseFlags, UsageError } from './args';

export const TRAINING_SET_USAGE = `usage: fathom training-set --from DATE --to DATE --cutoff TIME --out DIR [options]
  --from DATE|TIME           first event time included (2026-01-01 or 2026-01-01T06:00:00Z)
  --to DATE|TIME             first event time excluded
  --cutoff TIME              labels with labeled_at at or before it are known; later ones are ignored
  --out DIR                  the directory to create (it must not exist, or be empty)
  --feature-set ID           the model's feature set, e.g. card_fraud.v1 (default: the only one in range;
                             a range holding several is refused)
  --validation F             share of rows, before the holdout, for early stopping (default 0.15)
  --holdout F                share of the latest rows for the final evaluation (default 0.15)
  --data-dir DIR             local state (default .fathom); the warehouse is DIR/warehouse
  --warehouse DIR            the Iceberg warehouse itself (overrides --data-dir)
  --database NAME            database in the warehouse (default ${platformResources().offlineStore.database})
  --feature-log-snapshot ID  read feature_log at this snapshot (default: its current one)
  --labels-snapshot ID       read labels at this snapshot (default: its current one)
  --as-of TIME               read both tables as they were at TIME (a flag above wins for its table)
  -h, --help                 this text
Rows: feature_log in [from, to) of one feature set, one per event id, joined to the latest label
known at the cutoff; rows without one are dropped and counted. Splits are by event time, never
shuffled. manifest.json records both snapshot ids, the parameters, the counts and a sha256 per file.
The last line of stdout is a JSON summary.`;

/** The warehouse the offline commands read: --warehouse, or <--data-dir>/warehouse. */
export function warehouseFromFlags(values: { warehouse?: string; 'data-dir'?: string; database?: string }): WarehouseOptions {
  return {
    warehouse: resolve(values.warehouse ?? join(values['data-dir'] ?? DEFAULT_DATA_DIR, WAREHOUSE_DIR)),
    database: values.database ?? platformResources().offlineStore.database,
  };
}

/** A library ConfigError's field, named as the flag the user typed. */
export function asFlagError(error: unknown, flags: Readonly<Record<string, string>>): unknown {
  if (!(error instanceof ConfigError)) return error;
  const flag = flags[error.field] ?? `--${error.field}`;
  const message = error.message.startsWith(`${error.field}`) ? `${flag}${error.message.slice(error.field.length)}` : `${flag}: ${error.message}`;
  return new UsageError(message, flag);
}

const FLAGS = { from: '--from', to: '--to', cutoff: '--cutoff', featureSet: '--feature-set', validation: '--validation', holdout: '--holdout', outDir: '--out' };

export function parseTrainingSetArgs(argv: readonly string[]): BuildTrainingSetOptions | undefined {
  const v = parseFlags(argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    cutoff: { type: 'string' },
    out: { type: 'string' },
    'feature-set': { type: 'string' },
    validation: { type: 'string' },
    holdout: { type: 'string' },
    'data-dir': { type: 'string' },
    warehouse: { type: 'string' },
    database: { type: 'string' },
    'feature-log-snapshot': { type: 'string' },
    'labels-snapshot': { type: 'string' },
    'as-of': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  for (const flag of ['from', 'to', 'cutoff', 'out'] as const) if (!v[flag]) throw new UsageError(`--${flag} is required`, `--${flag}`);
  const snapshotFlag = (flag: string, value: string | undefined): number | undefined => integerFlag(flag, value, -Number.MAX_SAFE_INTEGER);
  let asOf: SnapshotSelector = undefined;
  if (v['as-of'] !== undefined) {
    try {
      asOf = { asOfMs: Number(parseInstant('--as-of', v['as-of']).micros / 1000n) };
    } catch (error) {
      throw new UsageError((error as Error).message, '--as-of');
    }
  }
  const featureLogId = snapshotFlag('--feature-log-snapshot', v['feature-log-snapshot']);
  const labelsId = snapshotFlag('--labels-snapshot', v['labels-snapshot']);
  return {
    warehouse: warehouseFromFlags(v),
    outDir: v.out!,
    params: {
      from: v.from!,
      to: v.to!,
      cutoff: v.cutoff!,
      featureSet: v['feature-set'],
      validation: numberFlag('--validation', v.validation),
      holdout: numberFlag('--holdout', v.holdout),
    },
    snapshots: {
      featureLog: featureLogId !== undefined ? { snapshotId: featureLogId } : asOf,
      labels: labelsId !== undefined ? { snapshotId: labelsId } : asOf,
    },
  };
}

function progressPrinter(): (e: TrainingSetProgress) => void {
  const started = performance.now();
  const s = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  return (e) => {
    switch (e.phase) {
      case 'pinned':
        process.stderr.write(`training-set: reading feature_log@${e.featureLog} and labels@${e.labels}\n`);
        return;
      case 'joined':
        process.stderr.write(`training-set: ${e.rows.toLocaleString('en-US')} labeled rows of ${e.events.toLocaleString('en-US')} events (${e.unlabeled.toLocaleString('en-US')} without a label at the cutoff)  ${s()}\n`);
        return;
      case 'writing':
        process.stderr.write(`training-set: writing ${e.split} (${e.rows.toLocaleString('en-US')} rows)  ${s()}\n`);
        return;
      case 'written':
        process.stderr.write(`training-set: wrote ${e.dir}  ${s()}\n`);
        return;
    }
  };
}

export async function runTrainingSet(argv: string[]): Promise<void> {
  let options: BuildTrainingSetOptions | undefined;
  try {
    options = parseTrainingSetArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom training-set: ${error.message}\n${TRAINING_SET_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (!options) {
    process.stdout.write(`${TRAINING_SET_USAGE}\n`);
    return;
  }
  const result = await buildTrainingSet({ ...options, onProgress: progressPrinter() }).catch((error: unknown) => {
    throw asFlagError(error, FLAGS);
  });
  const m = result.manifest;
  if (m.counts.conflicting_duplicates > 0) {
    process.stderr.write(
      `training-set: warning: ${m.counts.conflicting_duplicates} event ids have feature_log rows that disagree (e.g. ${m.conflict_examples.slice(0, 3).join(', ')}); ` +
        'the on-time, first-logged row of each was kept\n',
    );
  }
  if (m.counts.conflicting_labels > 0) process.stderr.write(`training-set: note: ${m.counts.conflicting_labels} events had labels that changed before the cutoff; the latest was used\n`);
  process.stdout.write(
    `${JSON.stringify({
      status: 'completed',
      out: result.dir,
      id: m.id,
      manifest_sha256: result.manifestSha256,
      feature_set: m.feature_set,
      params: m.params,
      rows: { train: m.splits.train.rows, validation: m.splits.validation.rows, holdout: m.splits.holdout.rows },
      positives: { train: m.splits.train.positives, validation: m.splits.validation.positives, holdout: m.splits.holdout.positives },
      counts: m.counts,
      seconds: Math.round(result.seconds * 100) / 100,
    })}\n`,
  );
}
