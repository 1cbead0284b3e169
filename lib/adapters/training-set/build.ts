// Builds a point-in-time training set from the offline store: feature_log joined to labels in
// DuckDB over each table's data files at one pinned snapshot, under the rules of
// lib/core/training-set/point-in-time.ts, split by event time and written as three training-row
// Parquet files (what `fathom train --data` reads) plus manifest.json.
//
// Pinning: each table is resolved to one snapshot first, and DuckDB reads exactly the files that
// snapshot lists. A writer committing meanwhile adds files to a later snapshot only, so the set is
// what the manifest names, however busy the tables are.
//
// Reproducibility: the same snapshots and parameters give the same bytes. Rows are written in a
// total order (event time, event id), with a fixed row-group size, by one DuckDB thread (the row
// groups of a multi-threaded ordered COPY could depend on how work was scheduled), and the
// manifest holds no build time or machine path.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ConfigError, ResourceError } from '../../core/errors';
import type { FeatureSet } from '../../core/features/definitions';
import type { Snapshot, SnapshotSelector } from '../../core/iceberg';
import { formatTimestampMicros } from '../../core/iceberg/timestamps';
import { FEATURE_LOG_TABLE, LABELS_TABLE } from '../../core/offline/tables';
import {
  chooseFeatureSet,
  KNOWN_FEATURE_SETS,
  parseTrainingSetParams,
  planTimeSplit,
  renderTrainingSetManifest,
  resolveFeatureSet,
  SPLIT_FILES,
  SPLITS,
  trainingSetId,
  CONFLICT_EXAMPLES,
  TRAINING_SET_FORMAT,
  TRAINING_SET_MANIFEST_FILE,
  type PointInTimeCounts,
  type SplitName,
  type TrainingSetManifest,
  type TrainingSetParams,
  type TrainingSetParamsInput,
  type TrainingSetSource,
  type TrainingSetSplit,
} from '../../core/training-set';
import { listDataFiles, queryTables, type IcebergTable, type WarehouseOptions } from '../iceberg';
import { fileSha256 } from './hash';
import { featureLogRangeSql, ident, literal, numberOf, PREFERRED_ROW_ORDER, rowsOf } from './sql';
import { openExistingTable } from './tables';

/** Rows per Parquet row group of a split file (fixed: the bytes must not depend on DuckDB's default). */
export const SPLIT_ROW_GROUP_SIZE = 100_000;

export interface BuildTrainingSetOptions {
  readonly warehouse: WarehouseOptions;
  readonly params: TrainingSetParamsInput;
  /** The directory to create; it must not exist or be empty. */
  readonly outDir: string;
  /** Snapshot of each table to read (default: the current one of each, resolved once). */
  readonly snapshots?: { readonly featureLog?: SnapshotSelector; readonly labels?: SnapshotSelector };
  /** Feature sets whose columns can be named (default: KNOWN_FEATURE_SETS). */
  readonly featureSets?: Iterable<FeatureSet>;
  readonly onProgress?: (event: TrainingSetProgress) => void;
}

export type TrainingSetProgress =
  | { readonly phase: 'pinned'; readonly featureLog: number; readonly labels: number }
  | { readonly phase: 'joined'; readonly rows: number; readonly events: number; readonly unlabeled: number }
  | { readonly phase: 'writing'; readonly split: SplitName; readonly rows: number }
  | { readonly phase: 'written'; readonly dir: string };

export interface BuildTrainingSetResult {
  readonly dir: string;
  readonly manifest: TrainingSetManifest;
  /** sha256 of manifest.json's bytes: the name of the whole set (a model's training_set.sha256). */
  readonly manifestSha256: string;
  readonly seconds: number;
}

/** Pins one snapshot; a table without one has nothing to build from. */
async function pin(table: IcebergTable<unknown>, selector: SnapshotSelector): Promise<{ snapshot: Snapshot; dataFiles: number }> {
  const listed = await listDataFiles(table, { snapshot: selector });
  if (!listed.snapshot) throw new ResourceError(`${table.name}: the table has no snapshot yet (nothing was ever written to it)`, table.name, false);
  return { snapshot: listed.snapshot, dataFiles: listed.files.length };
}

const sourceOf = (table: IcebergTable<unknown>, pinned: { snapshot: Snapshot; dataFiles: number }): TrainingSetSource => ({
  table: table.name,
  snapshot_id: pinned.snapshot['snapshot-id'],
  sequence_number: pinned.snapshot['sequence-number'],
  committed_at: new Date(pinned.snapshot['timestamp-ms']).toISOString(),
  data_files: pinned.dataFiles,
});

/** Creates `dir`'s parent and refuses a `dir` that holds anything: a set is never mixed with older files. */
async function checkOutDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
  if (entries && entries.length > 0) throw new ConfigError(`outDir: ${dir} already exists and is not empty; choose a new directory`, 'outDir');
  await mkdir(dirname(dir), { recursive: true });
}

/** ISO 8601 UTC of epoch microseconds in SQL, the form formatTimestampMicros writes. */
const isoSql = (us: string): string =>
  `CASE WHEN ${us} % 1000 = 0 THEN strftime(make_timestamp(${us}), '%Y-%m-%dT%H:%M:%S.%gZ') ELSE strftime(make_timestamp(${us}), '%Y-%m-%dT%H:%M:%S.%fZ') END`;

export async function buildTrainingSet(options: BuildTrainingSetOptions): Promise<BuildTrainingSetResult> {
  const started = performance.now();
  const report = options.onProgress ?? (() => {});
  const params = parseTrainingSetParams(options.params);
  const outDir = resolve(options.outDir);
  await checkOutDir(outDir);
  const featureLog = await openExistingTable(options.warehouse, FEATURE_LOG_TABLE);
  const labels = await openExistingTable(options.warehouse, LABELS_TABLE);
  const [flPin, labelsPin] = await Promise.all([
    pin(featureLog as IcebergTable<unknown>, options.snapshots?.featureLog),
    pin(labels as IcebergTable<unknown>, options.snapshots?.labels),
  ]);
  report({ phase: 'pinned', featureLog: flPin.snapshot['snapshot-id'], labels: labelsPin.snapshot['snapshot-id'] });

  // Written beside the target and renamed into place: a failed build leaves no half set behind.
  const work = join(dirname(outDir), `.${basename(outDir)}.partial-${randomUUID()}`);
  await mkdir(work);
  try {
    const built = await queryTables(
      [
        { table: featureLog as IcebergTable<unknown>, snapshot: { snapshotId: flPin.snapshot['snapshot-id'] } },
        { table: labels as IcebergTable<unknown>, snapshot: { snapshotId: labelsPin.snapshot['snapshot-id'] } },
      ],
      ({ connection }) => joinAndWrite(connection, params, work, options.featureSets ?? KNOWN_FEATURE_SETS.values(), report),
    );
    const manifest: TrainingSetManifest = {
      format: TRAINING_SET_FORMAT,
      id: trainingSetId(flPin.snapshot['snapshot-id'], labelsPin.snapshot['snapshot-id']),
      feature_set: built.featureSet,
      features: built.features,
      params: { from: params.from.iso, to: params.to.iso, cutoff: params.cutoff.iso, validation: params.validation, holdout: params.holdout },
      sources: { feature_log: sourceOf(featureLog as IcebergTable<unknown>, flPin), labels: sourceOf(labels as IcebergTable<unknown>, labelsPin) },
      counts: built.counts,
      conflict_examples: built.conflictExamples,
      splits: built.splits,
    };
    const text = renderTrainingSetManifest(manifest);
    await writeFile(join(work, TRAINING_SET_MANIFEST_FILE), text);
    const manifestSha256 = await fileSha256(join(work, TRAINING_SET_MANIFEST_FILE));
    // An empty directory at the target (allowed above) is replaced; rename cannot overwrite it.
    await rmdir(outDir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    await rename(work, outDir);
    report({ phase: 'written', dir: outDir });
    return { dir: outDir, manifest, manifestSha256, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

interface Built {
  readonly featureSet: string;
  readonly features: string[];
  readonly counts: PointInTimeCounts;
  readonly conflictExamples: string[];
  readonly splits: Record<SplitName, TrainingSetSplit>;
}

async function joinAndWrite(
  connection: DuckDBConnection,
  params: TrainingSetParams,
  work: string,
  featureSets: Iterable<FeatureSet>,
  report: (event: TrainingSetProgress) => void,
): Promise<Built> {
  const fromUs = params.from.micros;
  const toUs = params.to.micros;
  const cutoffUs = params.cutoff.micros;

  // Which feature sets the range holds: one is used, never a mix.
  const perSet: Record<string, number> = {};
  for (const r of await rowsOf(
    connection,
    `SELECT feature_set, count(*) AS n FROM feature_log WHERE epoch_us(event_time) >= ${fromUs} AND epoch_us(event_time) < ${toUs} GROUP BY feature_set`,
  )) {
    perSet[String(r.feature_set)] = Number(r.n);
  }
  const featureSet = chooseFeatureSet(perSet, params.featureSet);
  const features = resolveFeatureSet(featureSet, 'featureSet', featureSets).features.map((f) => f.name);

  await connection.run(`CREATE TEMP TABLE candidates AS ${featureLogRangeSql('feature_log', featureSet, fromUs, toUs)}`);
  await connection.run(`CREATE TEMP TABLE chosen AS SELECT * FROM candidates QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ${PREFERRED_ROW_ORDER}) = 1`);
  const featureLogRows = await numberOf(connection, 'SELECT count(*) FROM candidates');
  const events = await numberOf(connection, 'SELECT count(*) FROM chosen');
  // Repeats that disagree; only ids logged more than once are compared (the rest cannot disagree).
  await connection.run(
    `CREATE TEMP TABLE conflicts AS
       SELECT event_id FROM candidates
        WHERE event_id IN (SELECT event_id FROM candidates GROUP BY event_id HAVING count(*) > 1)
        GROUP BY event_id HAVING count(DISTINCT (entity_id, t_us, features, late)) > 1`,
  );
  const conflicting = await numberOf(connection, 'SELECT count(*) FROM conflicts');
  const conflictExamples = (await rowsOf(connection, `SELECT event_id FROM conflicts ORDER BY event_id LIMIT ${CONFLICT_EXAMPLES}`)).map((r) => String(r.event_id));

  // Labels of these events; those after the cutoff are only counted.
  await connection.run(
    `CREATE TEMP TABLE lab AS SELECT event_id, label, epoch_us(labeled_at) AS at_us FROM labels WHERE event_id IN (SELECT event_id FROM chosen)`,
  );
  // The latest label known at the cutoff; at equal labeled_at, 1 (the key is at_us * 2 + label).
  await connection.run(
    `CREATE TEMP TABLE known AS
       SELECT event_id, arg_max(label, at_us * 2 + label) AS label, count(DISTINCT label) > 1 AS disagree
         FROM lab WHERE at_us <= ${cutoffUs} GROUP BY event_id`,
  );
  const labelRowsAfterCutoff = await numberOf(connection, `SELECT count(*) FROM lab WHERE at_us > ${cutoffUs}`);
  const unlabeled = await numberOf(connection, 'SELECT count(*) FROM chosen WHERE event_id NOT IN (SELECT event_id FROM known)');
  const onlyAfter = await numberOf(
    connection,
    `SELECT count(*) FROM chosen WHERE event_id NOT IN (SELECT event_id FROM known) AND event_id IN (SELECT event_id FROM lab WHERE at_us > ${cutoffUs})`,
  );
  await connection.run(
    `CREATE TEMP TABLE set_rows AS
       SELECT row_number() OVER (ORDER BY c.t_us, c.event_id) - 1 AS i, c.event_id, c.t_us, k.label, k.disagree, c.features
         FROM chosen c JOIN known k USING (event_id)`,
  );
  const [totals] = await rowsOf(
    connection,
    `SELECT count(*) AS rows, coalesce(sum(label), 0) AS positives, count(*) FILTER (WHERE disagree) AS disagree,
            count(*) FILTER (WHERE len(features) <> ${features.length}) AS bad_width, min(event_id) FILTER (WHERE len(features) <> ${features.length}) AS bad_id
       FROM set_rows`,
  );
  if (Number(totals!.bad_width) > 0) {
    throw new ResourceError(
      `feature_log: ${Number(totals!.bad_width)} ${featureSet} rows do not hold ${features.length} values (e.g. event ${String(totals!.bad_id)}): the table disagrees with the feature set's definition`,
      'feature_log',
      false,
    );
  }
  const rows = Number(totals!.rows);
  report({ phase: 'joined', rows, events, unlabeled });
  if (rows === 0) {
    throw new ConfigError(
      `cutoff: none of the ${events} events in range has a label known at ${params.cutoff.iso}${onlyAfter > 0 ? ` (${onlyAfter} are labeled only later)` : ''}`,
      'cutoff',
    );
  }

  // Split planning is pure (lib/core/training-set/split.ts) over the sorted event times.
  const column = (await connection.runAndReadAll('SELECT t_us::DOUBLE AS t FROM set_rows ORDER BY i')).getColumnsJS()[0] ?? [];
  const times = Float64Array.from(column, (t) => Number(t));
  const plan = planTimeSplit(times, params.validation, params.holdout);

  // One thread for the writes: the files' row groups must not depend on scheduling (see top).
  await connection.run('SET threads = 1');
  const columns = [
    'event_id',
    `${isoSql('t_us')} AS event_time`,
    'label::INTEGER AS label',
    ...features.map((name, j) => `features[${j + 1}]::DOUBLE AS ${ident(name)}`),
  ].join(', ');
  const splits = {} as Record<SplitName, TrainingSetSplit>;
  for (const name of SPLITS) {
    const { start, end } = plan[name];
    report({ phase: 'writing', split: name, rows: end - start });
    const path = join(work, SPLIT_FILES[name]);
    await connection.run(
      `COPY (SELECT ${columns} FROM set_rows WHERE i >= ${start} AND i < ${end} ORDER BY i)
         TO ${literal(path)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${SPLIT_ROW_GROUP_SIZE})`,
    );
    const positives = await numberOf(connection, `SELECT coalesce(sum(label), 0) FROM set_rows WHERE i >= ${start} AND i < ${end}`);
    const { sha256, bytes } = await fileSha256WithSize(path);
    splits[name] = {
      file: SPLIT_FILES[name],
      rows: end - start,
      positives,
      first_event_time: end > start ? formatTimestampMicros(BigInt(times[start]!)) : null,
      last_event_time: end > start ? formatTimestampMicros(BigInt(times[end - 1]!)) : null,
      bytes,
      sha256,
    };
  }
  const otherSets: Record<string, number> = {};
  for (const s of Object.keys(perSet).sort()) if (s !== featureSet) otherSets[s] = perSet[s]!;
  return {
    featureSet,
    features,
    counts: {
      feature_log_rows: featureLogRows,
      other_feature_sets: otherSets,
      duplicate_rows: featureLogRows - events,
      conflicting_duplicates: conflicting,
      events,
      unlabeled,
      labeled_only_after_cutoff: onlyAfter,
      label_rows_after_cutoff: labelRowsAfterCutoff,
      conflicting_labels: Number(totals!.disagree),
      rows,
      positives: Number(totals!.positives),
    },
    conflictExamples,
    splits,
  };
}

async function fileSha256WithSize(path: string): Promise<{ sha256: string; bytes: number }> {
  const [sha256, info] = await Promise.all([fileSha256(path), stat(path)]);
  return { sha256, bytes: info.size };
}
