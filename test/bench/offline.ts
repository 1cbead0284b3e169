// Offline-store benchmark (`npm run bench -- offline [--events N]`, JSON on the last stdout line):
//
// 1. Append throughput through the local Firehose path: feature_log rows sent with the SDK's
//    FirehoseClient through FirehoseSink (PutRecordBatch, 500 rows a call) to the local Firehose
//    endpoint, which buffers and commits them into the Iceberg table with its default buffering;
//    rows/s until the last row is committed. Beside it, the same rows appended directly with
//    appendRows (no HTTP, no JSON) in the same commit sizes the endpoint produced.
// 2. A point-in-time training set from N events (default 1,000,000): the DuckDB builder
//    (buildTrainingSet) beside a plain in-process JavaScript build of the same set — hyparquet
//    reads of the same snapshots' files, the Map-by-event-id join of
//    lib/core/training-set/point-in-time.ts, the same split, hyparquet-writer output — each in its
//    own child process so its peak RSS and heap are its own. Both must produce the same rows.
//
// The tables are filled directly with appendRows (runBatch vectors, generated labels, 1 % of the
// feature_log rows delivered twice) to keep setup fast.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { FirehoseSink } from '../../lib/adapters/firehose-sink';
import { appendRows, listDataFiles, openTable, type IcebergTable, type WarehouseOptions } from '../../lib/adapters/iceberg';
import { buildTrainingSet, fileSha256 } from '../../lib/adapters/training-set';
import { createTrainingRowWriter } from '../../lib/adapters/training-rows-file';
import { FeatureEngine, referenceFeatureSet, runBatch } from '../../lib/core/features';
import { generateWorkload } from '../../lib/core/generator';
import type { IcebergTableDefinition } from '../../lib/core/iceberg';
import { formatTimestampMicros } from '../../lib/core/iceberg/timestamps';
import { FEATURE_LOG_TABLE, LABELS_TABLE, type FeatureLogRow, type LabelsRow } from '../../lib/core/offline/tables';
import { parseTrainingSetParams, planTimeSplit, pointInTimeJoin, SPLIT_FILES, SPLITS, type FeatureLogEntry, type LabelEntry } from '../../lib/core/training-set';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-clients';
import { startFirehoseEndpoint, warehouseSink } from '../../lib/local/firehose-endpoint';

// As bin/fathom.ts: the SDK's Node 22 notice would interleave with the progress output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const log = (s: string) => process.stderr.write(`[bench offline] ${s}\n`);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const MB = 1024 * 1024;
const START = '2026-01-01';
const DAYS = 60;
const DAY_MS = 86_400_000;

interface SetParams {
  readonly from: string;
  readonly to: string;
  readonly cutoff: string;
}

// ---------------------------------------------------------------------------------------------
// Setup

interface Filled {
  readonly featureRows: FeatureLogRow[];
  readonly setupSeconds: number;
  readonly featureLogRows: number;
  readonly labelRows: number;
}

export async function fill(warehouse: WarehouseOptions, events: number): Promise<Filled> {
  const t0 = performance.now();
  log(`generating ${events.toLocaleString('en-US')} events over ${DAYS} days and their vectors`);
  const generated = [...generateWorkload({ seed: 1, events, days: DAYS, start: START })];
  const loggedAt = new Date(Date.parse(START) + (DAYS + 1) * DAY_MS).toISOString();
  const featureRows: FeatureLogRow[] = [];
  runBatch(
    new FeatureEngine(referenceFeatureSet),
    generated.map((g) => ({ ...g.event, ts: Date.parse(g.event.event_time) })),
    (v) =>
      featureRows.push({
        event_id: v.eventId,
        entity_id: v.entityId,
        event_time: new Date(v.ts).toISOString(),
        feature_set: 'card_fraud.v1',
        features: v.values.map((x) => (Number.isNaN(x) ? null : x)),
        late: v.late,
        logged_at: loggedAt,
      }),
  );
  const labels: LabelsRow[] = generated.map((g) => ({ event_id: g.event.event_id, label: g.label, labeled_at: g.label_available_at }));
  const featureLog = await openTable(warehouse, FEATURE_LOG_TABLE);
  const labelsTable = await openTable(warehouse, LABELS_TABLE);
  const size = 100_000;
  for (let i = 0; i < featureRows.length; i += size) {
    await appendRows(featureLog, featureRows.slice(i, i + size));
    log(`feature_log: ${Math.min(i + size, featureRows.length).toLocaleString('en-US')} rows appended`);
  }
  // At-least-once delivery: 1 % of the rows again, logged later.
  const again = featureRows.filter((_, i) => i % 100 === 0).map((r) => ({ ...r, logged_at: new Date(Date.parse(loggedAt) + 60_000).toISOString() }));
  await appendRows(featureLog, again);
  for (let i = 0; i < labels.length; i += size) await appendRows(labelsTable, labels.slice(i, i + size));
  log(`labels: ${labels.length.toLocaleString('en-US')} rows appended`);
  return { featureRows, setupSeconds: (performance.now() - t0) / 1000, featureLogRows: featureRows.length + again.length, labelRows: labels.length };
}

// ---------------------------------------------------------------------------------------------
// 1. Append throughput through the local Firehose endpoint

async function firehoseThroughput(dir: string, rows: readonly FeatureLogRow[]): Promise<unknown> {
  const warehouse = { warehouse: join(dir, 'firehose-warehouse'), database: 'fathom_offline' };
  const stream = 'fathom-offline-feature_log';
  const commits: number[] = [];
  const sink = warehouseSink(warehouse);
  const endpoint = await startFirehoseEndpoint({
    streams: { [stream]: FEATURE_LOG_TABLE as IcebergTableDefinition<unknown> },
    // Counts the rows of every delivery (one Iceberg commit each).
    sink: { append: async (table, r) => (await sink.append(table, r), void commits.push(r.length)) },
    errorDir: join(dir, 'firehose-errors'),
  });
  const client = new FirehoseClient({ endpoint: endpoint.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  try {
    const producer = new FirehoseSink({ client, deliveryStreamName: stream, table: FEATURE_LOG_TABLE });
    const batch = 500;
    log(`firehose: sending ${rows.length.toLocaleString('en-US')} feature_log rows, ${batch} a call`);
    const t0 = performance.now();
    let calls = 0;
    for (let i = 0; i < rows.length; i += batch) calls += (await producer.send(rows.slice(i, i + batch))).calls;
    const sentMs = performance.now() - t0;
    await endpoint.flush();
    const totalMs = performance.now() - t0;
    const rowsPerCommit = Math.round(rows.length / Math.max(1, commits.length));
    log(`firehose: ${round(rows.length / (totalMs / 1000), 0)} rows/s, ${commits.length} commits`);

    // Baseline: appendRows directly, in the commit sizes the endpoint produced.
    const direct = await openTable({ warehouse: join(dir, 'direct-warehouse'), database: 'fathom_offline' }, FEATURE_LOG_TABLE);
    const t1 = performance.now();
    for (let i = 0; i < rows.length; i += rowsPerCommit) await appendRows(direct, rows.slice(i, i + rowsPerCommit));
    const directMs = performance.now() - t1;
    const delivered = (await listDataFiles(await openTable(warehouse, FEATURE_LOG_TABLE))).files.reduce((n, f) => n + f.recordCount, 0);
    return {
      rows: rows.length,
      delivered_rows: delivered,
      put_record_batch_calls: calls,
      commits: commits.length,
      rows_per_commit: rowsPerCommit,
      buffering: 'endpoint default (LOCAL_FIREHOSE_BUFFERING)',
      send_seconds: round(sentMs / 1000),
      seconds: round(totalMs / 1000),
      rows_per_s: round(rows.length / (totalMs / 1000), 0),
      baseline_direct_append: { seconds: round(directMs / 1000), rows_per_s: round(rows.length / (directMs / 1000), 0), commits: Math.ceil(rows.length / rowsPerCommit) },
    };
  } finally {
    client.destroy();
    await endpoint.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Training set: DuckDB beside a plain JavaScript join, each in a child process

interface WorkerArgs {
  readonly mode: 'duckdb' | 'js';
  readonly warehouse: string;
  readonly database: string;
  readonly out: string;
  readonly featureLogSnapshot: number;
  readonly labelsSnapshot: number;
  readonly params: SetParams;
}

function heapSampler(): { sample: () => void; peak: () => number; stop: () => void } {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  const timer = setInterval(sample, 20);
  return { sample, peak: () => peak, stop: () => clearInterval(timer) };
}

async function duckdbWorker(a: WorkerArgs, sample: () => void): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const r = await buildTrainingSet({
    warehouse: { warehouse: a.warehouse, database: a.database },
    outDir: a.out,
    params: a.params,
    snapshots: { featureLog: { snapshotId: a.featureLogSnapshot }, labels: { snapshotId: a.labelsSnapshot } },
    onProgress: (e) => (sample(), log(`duckdb: ${e.phase} ${'rows' in e ? e.rows : ''}`)),
  });
  return { seconds: (performance.now() - t0) / 1000, counts: r.manifest.counts, splits: Object.fromEntries(SPLITS.map((s) => [s, r.manifest.splits[s].rows])) };
}

/** Reads a snapshot's files with hyparquet, timestamps as epoch microseconds. */
async function readTableJs(table: IcebergTable<unknown>, snapshotId: number, columns: string[], each: (row: Record<string, unknown>) => void, sample: () => void): Promise<number> {
  const { files } = await listDataFiles(table, { snapshot: { snapshotId } });
  let n = 0;
  for (const f of files) {
    const file = await asyncBufferFromFile(f.path);
    const metadata = await parquetMetadataAsync(file);
    const rows = await parquetReadObjects({ file, metadata, columns, parsers: { timestampFromMicroseconds: (us: bigint) => us } });
    for (const row of rows) each(row);
    n += rows.length;
    sample();
  }
  return n;
}

async function jsWorker(a: WorkerArgs, sample: () => void): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const warehouse = { warehouse: a.warehouse, database: a.database };
  const params = parseTrainingSetParams(a.params);
  const featureRows: FeatureLogEntry[] = [];
  await readTableJs(
    (await openTable(warehouse, FEATURE_LOG_TABLE)) as IcebergTable<unknown>,
    a.featureLogSnapshot,
    ['event_id', 'entity_id', 'event_time', 'feature_set', 'features', 'late', 'logged_at'],
    (r) =>
      featureRows.push({
        event_id: r.event_id as string,
        entity_id: r.entity_id as string,
        event_time_us: Number(r.event_time as bigint),
        feature_set: r.feature_set as string,
        features: r.features as (number | null)[],
        late: r.late as boolean,
        logged_at_us: Number(r.logged_at as bigint),
      }),
    sample,
  );
  const labelRows: LabelEntry[] = [];
  await readTableJs(
    (await openTable(warehouse, LABELS_TABLE)) as IcebergTable<unknown>,
    a.labelsSnapshot,
    ['event_id', 'label', 'labeled_at'],
    (r) => labelRows.push({ event_id: r.event_id as string, label: r.label as 0 | 1, labeled_at_us: Number(r.labeled_at as bigint) }),
    sample,
  );
  const readSeconds = (performance.now() - t0) / 1000;
  log(`js: read ${featureRows.length.toLocaleString('en-US')} + ${labelRows.length.toLocaleString('en-US')} rows in ${round(readSeconds)} s`);
  const t1 = performance.now();
  const joined = pointInTimeJoin(featureRows, labelRows, { fromUs: Number(params.from.micros), toUs: Number(params.to.micros), cutoffUs: Number(params.cutoff.micros) });
  sample();
  featureRows.length = 0;
  labelRows.length = 0;
  const plan = planTimeSplit(
    joined.rows.map((r) => r.event_time_us),
    params.validation,
    params.holdout,
  );
  const joinSeconds = (performance.now() - t1) / 1000;
  log(`js: joined ${joined.rows.length.toLocaleString('en-US')} rows in ${round(joinSeconds)} s`);
  const t2 = performance.now();
  await mkdir(a.out, { recursive: true });
  const features = referenceFeatureSet.features.map((f) => f.name);
  for (const name of SPLITS) {
    const { start, end } = plan[name];
    const writer = createTrainingRowWriter(join(a.out, SPLIT_FILES[name]), features);
    for (let i = start; i < end; i += 10_000) {
      await writer.write(
        joined.rows.slice(i, Math.min(end, i + 10_000)).map((r) => ({
          event_id: r.event_id,
          event_time: formatTimestampMicros(BigInt(r.event_time_us)),
          label: r.label,
          values: r.features.map((x) => x ?? Number.NaN),
        })),
      );
      sample();
    }
    await writer.close();
    await fileSha256(join(a.out, SPLIT_FILES[name]));
  }
  const writeSeconds = (performance.now() - t2) / 1000;
  return {
    seconds: (performance.now() - t0) / 1000,
    phases: { read: round(readSeconds), join: round(joinSeconds), write: round(writeSeconds) },
    counts: joined.counts,
    splits: Object.fromEntries(SPLITS.map((s) => [s, plan[s].end - plan[s].start])),
  };
}

async function worker(argv: readonly string[]): Promise<void> {
  const a = JSON.parse(argv[argv.indexOf('--worker') + 1]!) as WorkerArgs;
  const heap = heapSampler();
  const result = a.mode === 'duckdb' ? await duckdbWorker(a, heap.sample) : await jsWorker(a, heap.sample);
  heap.sample();
  heap.stop();
  process.stdout.write(`${JSON.stringify({ ...result, peak_rss_mb: round(process.resourceUsage().maxRSS / 1024, 0), peak_heap_mb: round(heap.peak() / MB, 0) })}\n`);
}

function runWorker(args: WorkerArgs): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=12288', '--import', 'tsx', fileURLToPath(import.meta.url), '--worker', JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${args.mode} worker exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>);
    });
  });
}

/** sha256 over `event_id,label` lines of a set's splits in order: the two builds must agree row for row. */
async function rowsDigest(dir: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    await connection.run('SET threads = 1');
    const hash = createHash('sha256');
    for (const name of SPLITS) {
      const reader = await connection.runAndReadAll(`SELECT event_id, label FROM read_parquet('${join(dir, SPLIT_FILES[name])}')`);
      const [ids, labels] = reader.getColumnsJS() as [string[], number[]];
      for (let i = 0; i < ids.length; i++) hash.update(`${ids[i]},${labels[i]}\n`);
    }
    connection.closeSync();
    return hash.digest('hex');
  } finally {
    instance.closeSync();
  }
}

export async function run(opts: Record<string, string | undefined>): Promise<unknown> {
  const events = Number((opts['events'] ?? '1000000').replaceAll('_', ''));
  if (!Number.isSafeInteger(events) || events < 1000) throw new Error(`--events must be an integer ≥ 1000 (got ${opts['events']})`);
  const dir = await mkdtemp(join(tmpdir(), 'fathom-bench-offline-'));
  try {
    const warehouse = { warehouse: join(dir, 'warehouse'), database: 'fathom_offline' };
    const filled = await fill(warehouse, events);
    log(`setup: ${round(filled.setupSeconds)} s`);

    const firehose = await firehoseThroughput(dir, filled.featureRows.slice(0, Math.min(events, 100_000)));

    // The whole period; labels known 20 days after its end (legitimate ones mature after 30).
    const params: SetParams = { from: START, to: new Date(Date.parse(START) + DAYS * DAY_MS).toISOString(), cutoff: new Date(Date.parse(START) + (DAYS + 20) * DAY_MS).toISOString() };
    const pinned = async (definition: IcebergTableDefinition<unknown>) => (await listDataFiles(await openTable(warehouse, definition))).snapshot!['snapshot-id'];
    const base = {
      warehouse: warehouse.warehouse,
      database: warehouse.database,
      featureLogSnapshot: await pinned(FEATURE_LOG_TABLE as IcebergTableDefinition<unknown>),
      labelsSnapshot: await pinned(LABELS_TABLE as IcebergTableDefinition<unknown>),
      params,
    };
    log('training set: DuckDB build (child process)');
    const duckdb = await runWorker({ ...base, mode: 'duckdb', out: join(dir, 'set-duckdb') });
    log('training set: JavaScript join (child process)');
    const js = await runWorker({ ...base, mode: 'js', out: join(dir, 'set-js') });
    const sameRows = (await rowsDigest(join(dir, 'set-duckdb'))) === (await rowsDigest(join(dir, 'set-js')));
    const sameCounts = JSON.stringify(duckdb.counts) === JSON.stringify(js.counts);
    return {
      events,
      setup: { seconds: round(filled.setupSeconds), feature_log_rows: filled.featureLogRows, label_rows: filled.labelRows },
      firehose_append: firehose,
      training_set: {
        params,
        duckdb: { ...duckdb, seconds: round(duckdb.seconds as number) },
        js_map_join: { ...js, seconds: round(js.seconds as number) },
        same_rows: sameRows,
        same_counts: sameCounts,
        speedup: round((js.seconds as number) / (duckdb.seconds as number)),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Run as a worker: `tsx test/bench/offline.ts --worker '<json>'` (spawned by run above).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--worker')) {
  await worker(process.argv);
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { events: { type: 'string' } }, strict: true });
  process.stdout.write(`${JSON.stringify(await run(values))}\n`);
}
