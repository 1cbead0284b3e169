// Offline-store append benchmark: appendRows (validate, Parquet per partition, manifest, manifest
// list, atomic metadata commit) in batches of `--rows` (default 500), one writer and then four
// concurrent writers, beside the bare cost of encoding and writing the same rows as one Parquet
// file per batch (no validation, no Iceberg metadata), in the same run.
// `npx tsx test/bench/offline-append.ts [--batches 40] [--rows 500]`, JSON on the last line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { appendRows, loadTable, openTable } from '../../lib/adapters/iceberg';
import { encodeParquetDataFile } from '../../lib/adapters/iceberg/parquet-data-file';
import { toPhysicalRow } from '../../lib/core/iceberg';
import { EVENTS_TABLE } from '../../lib/core/offline/tables';
import { eventRows } from '../integration/iceberg-fixtures';

const log = (s: string) => process.stderr.write(`[bench offline-append] ${s}\n`);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;

export async function run(opts: Record<string, string | undefined>): Promise<unknown> {
  const batches = Number(opts['batches'] ?? 40);
  const rowsPerBatch = Number(opts['rows'] ?? 500);
  const dir = await mkdtemp(join(tmpdir(), 'fathom-bench-append-'));
  try {
    const data = Array.from({ length: batches }, (_, b) => eventRows(`b${b}`, 0, rowsPerBatch));

    // Baseline: the Parquet bytes alone.
    let t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      const bytes = encodeParquetDataFile(EVENTS_TABLE, data[b]!.map((r) => toPhysicalRow(EVENTS_TABLE, r)));
      await writeFile(join(dir, `baseline-${b}.parquet`), bytes);
    }
    const baselineMs = performance.now() - t0;

    const single = await openTable({ warehouse: dir, database: 'single' }, EVENTS_TABLE);
    const latencies: number[] = [];
    t0 = performance.now();
    for (const batch of data) {
      const start = performance.now();
      await appendRows(single, batch);
      latencies.push(performance.now() - start);
    }
    const singleMs = performance.now() - t0;
    const metadataBytes = JSON.stringify((await loadTable(single)).metadata).length;
    log(`single writer: ${batches} commits in ${singleMs.toFixed(0)} ms`);

    const concurrent = await openTable({ warehouse: dir, database: 'concurrent' }, EVENTS_TABLE);
    const writers = 4;
    let attempts = 0;
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let b = w; b < batches; b += writers) {
          const result = await appendRows(concurrent, data[b]!);
          attempts += result?.attempts ?? 0;
        }
      }),
    );
    const concurrentMs = performance.now() - t0;
    log(`${writers} writers: ${batches} commits in ${concurrentMs.toFixed(0)} ms, ${attempts} attempts`);

    const rows = batches * rowsPerBatch;
    return {
      rows_per_batch: rowsPerBatch,
      batches,
      append_rows_per_s: Math.round(rows / (singleMs / 1000)),
      append_commit_ms: { p50: +quantile(latencies, 0.5).toFixed(1), p99: +quantile(latencies, 0.99).toFixed(1) },
      concurrent_writers: writers,
      concurrent_rows_per_s: Math.round(rows / (concurrentMs / 1000)),
      concurrent_attempts_per_commit: +(attempts / batches).toFixed(2),
      baseline_parquet_only_rows_per_s: Math.round(rows / (baselineMs / 1000)),
      metadata_json_bytes_after: metadataBytes,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { batches: { type: 'string' }, rows: { type: 'string' } }, strict: true });
  process.stdout.write(`${JSON.stringify({ suite: 'offline-append', node: process.version, ...((await run(values)) as object) })}\n`);
}
