import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetMetadata } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAvroFile } from '../../lib/adapters/iceberg/avro-file';
import {
  appendRows,
  compact,
  expireSnapshots,
  listDataFiles,
  loadTable,
  openTable,
  queryTable,
  queryTables,
  readRows,
  type IcebergTable,
} from '../../lib/adapters/iceberg';
import { ValidationError } from '../../lib/core/errors';
import { defineTable } from '../../lib/core/iceberg';
import { EVENTS_TABLE, LABELS_TABLE, type EventsRow } from '../../lib/core/offline/tables';
import { z } from 'zod';
import { eventRows, labelRows, sortBy } from './iceberg-fixtures';

let warehouse: string;

beforeAll(async () => {
  warehouse = await mkdtemp(join(tmpdir(), 'fathom-iceberg-'));
});

afterAll(async () => {
  await rm(warehouse, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

const byId = (rows: readonly EventsRow[]) => sortBy(rows, (r) => r.event_id);

describe('iceberg tables on the local file system', () => {
  let events: IcebergTable<EventsRow>;
  const batches = [eventRows('ev', 0, 40, { micros: true }), eventRows('ev', 40, 25, { micros: true }), eventRows('ev', 65, 30, { micros: true })];
  const snapshots: number[] = [];
  const committedAt: number[] = [];

  beforeAll(async () => {
    events = await openTable({ warehouse }, EVENTS_TABLE);
    for (const batch of batches) {
      const result = await appendRows(events, batch);
      if (!result) throw new Error('no commit');
      snapshots.push(result.snapshotId);
      committedAt.push(Date.now());
      // Distinct commit milliseconds, so as-of lookups between commits are unambiguous.
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  it('lays the table out as a file-system catalog: data/<partition>/*.parquet, v<N>.metadata.json, manifests, a version hint', async () => {
    const files = await filesUnder(events.dir);
    expect(files.filter((f) => f.endsWith('.metadata.json'))).toEqual(['metadata/v1.metadata.json', 'metadata/v2.metadata.json', 'metadata/v3.metadata.json', 'metadata/v4.metadata.json']);
    expect(await readFile(join(events.dir, 'metadata', 'version-hint.text'), 'utf8')).toBe('4');
    expect(files.filter((f) => /^metadata\/snap-\d+-1-[0-9a-f-]+\.avro$/.test(f))).toHaveLength(3);
    expect(files.filter((f) => /^metadata\/[0-9a-f-]+-m0\.avro$/.test(f))).toHaveLength(3);
    const dataFiles = files.filter((f) => f.startsWith('data/'));
    expect(dataFiles.every((f) => /^data\/event_time_day=2024-05-0[1-3]\/\d{5}-[0-9a-f-]+\.parquet$/.test(f))).toBe(true);
    expect(dataFiles).toHaveLength(9); // three partitions per batch
    expect(files.some((f) => f.includes('.tmp'))).toBe(false);
  });

  it('writes Parquet with Iceberg field ids and the iceberg.schema footer', async () => {
    const { files } = await listDataFiles(events);
    const bytes = await readFile(files[0]!.path);
    const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const ids = Object.fromEntries(meta.schema.filter((s) => s.field_id !== undefined).map((s) => [s.name, s.field_id]));
    expect(ids).toEqual(Object.fromEntries(EVENTS_TABLE.schema.fields.map((f) => [f.name, f.id])));
    const timeColumn = meta.schema.find((s) => s.name === 'event_time');
    expect(timeColumn?.logical_type).toEqual({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
    expect(JSON.parse(meta.key_value_metadata?.find((kv) => kv.key === 'iceberg.schema')?.value ?? '{}')).toEqual(EVENTS_TABLE.schema);
    expect(files[0]!.fileSizeInBytes).toBe(bytes.length);
  });

  it('writes Avro manifests and manifest lists with the metadata and field ids the spec asks for', async () => {
    const { metadata } = await loadTable(events);
    const snapshot = metadata.snapshots.at(-1)!;
    const list = decodeAvroFile(await readFile(fileURLToPath(snapshot['manifest-list'])), 'list');
    expect(list.metadata).toMatchObject({ 'snapshot-id': String(snapshot['snapshot-id']), 'parent-snapshot-id': String(snapshot['parent-snapshot-id']), 'sequence-number': '3', 'format-version': '2' });
    expect(list.records).toHaveLength(3); // the new manifest and the two carried forward
    const listSchema = JSON.parse(list.metadata['avro.schema'] ?? '{}') as { fields: { name: string; 'field-id': number }[] };
    expect(listSchema.fields.slice(0, 4).map((f) => [f.name, f['field-id']])).toEqual([['manifest_path', 500], ['manifest_length', 501], ['partition_spec_id', 502], ['content', 517]]);
    const first = list.records[0] as { manifest_path: string; added_rows_count: number };
    expect(first.added_rows_count).toBe(30);
    const manifest = decodeAvroFile(await readFile(fileURLToPath(first.manifest_path)), 'manifest');
    expect(manifest.metadata).toMatchObject({ 'format-version': '2', content: 'data', 'partition-spec-id': '0', 'schema-id': '0' });
    expect(JSON.parse(manifest.metadata['partition-spec'] ?? '[]')).toEqual(EVENTS_TABLE.partitionSpec.fields);
    expect(JSON.parse(manifest.metadata['schema'] ?? '{}')).toEqual(EVENTS_TABLE.schema);
    const entry = manifest.records[0] as { status: number; sequence_number: number | null; data_file: { partition: Record<string, number>; file_format: string } };
    expect(entry).toMatchObject({ status: 1, sequence_number: null, data_file: { file_format: 'PARQUET' } });
    expect(Object.keys(entry.data_file.partition)).toEqual(['event_time_day']);
  });

  it('time travel: snapshots 1, 2 and 3 hold exactly the rows appended by then (by id, as of a time, by metadata version)', async () => {
    const expected = [batches[0]!, [...batches[0]!, ...batches[1]!], batches.flat()];
    for (let i = 0; i < 3; i++) {
      expect(byId(await readRows(events, { snapshot: { snapshotId: snapshots[i]! } }))).toEqual(byId(expected[i]!));
      expect(byId(await readRows(events, { snapshot: { asOfMs: committedAt[i]! } }))).toEqual(byId(expected[i]!));
      expect(byId(await readRows(events, { metadataVersion: i + 2 }))).toEqual(byId(expected[i]!));
      const [count] = await queryTable(events, 'SELECT count(*)::INTEGER AS n FROM events', { snapshot: { snapshotId: snapshots[i]! } });
      expect(count).toEqual({ n: expected[i]!.length });
    }
    expect(byId(await readRows(events))).toEqual(byId(batches.flat()));
    await expect(readRows(events, { snapshot: { asOfMs: Date.UTC(2000, 0, 1) } })).rejects.toThrow(/fathom.events: no snapshot as of 2000-01-01/);
    await expect(readRows(events, { snapshot: { snapshotId: 12345 } })).rejects.toThrow(/no snapshot 12345/);
  });

  it('round-trips every value exactly, microsecond timestamps and raw JSON included', async () => {
    const rows = await readRows(events, { snapshot: { snapshotId: snapshots[0]! } });
    const want = new Map(batches[0]!.map((r) => [r.event_id, r]));
    for (const row of rows) expect(row).toEqual(want.get(row.event_id));
    expect(rows.some((r) => /\.\d{6}Z$/.test(r.received_at))).toBe(true);
  });

  it('DuckDB reads exactly the snapshot files: SQL by table name, and joins across tables', async () => {
    const labels = await openTable({ warehouse }, LABELS_TABLE);
    await appendRows(labels, labelRows('ev', 0, 50));
    const perDay = await queryTable(events, `SELECT strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, count(*)::INTEGER AS n FROM events GROUP BY 1 ORDER BY 1`);
    expect(perDay.map((r) => r['n'])).toEqual([32, 32, 31]);
    const joined = await queryTables([{ table: events, snapshot: { snapshotId: snapshots[0]! } }, { table: labels }], async ({ connection, snapshots: used }) => {
      expect(used['events']?.['snapshot-id']).toBe(snapshots[0]);
      const reader = await connection.runAndReadAll('SELECT count(*)::INTEGER AS n, sum(label)::INTEGER AS fraud FROM events JOIN labels USING (event_id)');
      return reader.getRowObjectsJS()[0];
    });
    expect(joined).toEqual({ n: 40, fraud: 5 });
  });

  it('a batch with one bad row fails whole, naming the row and field, and writes nothing', async () => {
    const before = await filesUnder(events.dir);
    const batch: unknown[] = eventRows('bad', 0, 10);
    batch[7] = { ...(batch[7] as EventsRow), amount: 'lots' };
    await expect(appendRows(events, batch)).rejects.toThrow(expect.objectContaining({ field: 'rows[7].amount' }));
    await expect(appendRows(events, batch)).rejects.toBeInstanceOf(ValidationError);
    expect(await filesUnder(events.dir)).toEqual(before);
    expect(await appendRows(events, [])).toBeNull();
  });

  it('an empty table reads as no rows', async () => {
    const empty = await openTable({ warehouse, database: 'other' }, EVENTS_TABLE);
    expect(await readRows(empty)).toEqual([]);
    expect(await queryTable(empty, 'SELECT count(*)::INTEGER AS n FROM events')).toEqual([{ n: 0 }]);
    expect((await listDataFiles(empty)).snapshot).toBeNull();
  });

  it('opening a table with a different definition is refused; concurrent opens of a new table make one table', async () => {
    const impostor = defineTable({
      name: 'events',
      doc: 'wrong',
      row: z.object({ event_id: z.string(), event_time: z.string() }),
      columns: { event_id: { type: 'string', doc: '' }, event_time: { type: 'timestamptz', doc: '' } },
      partitionBy: { column: 'event_time', transform: 'day' },
    });
    await expect(openTable({ warehouse }, impostor)).rejects.toThrow(/other columns than the definition/);
    const opened = await Promise.all(Array.from({ length: 6 }, () => openTable({ warehouse, database: 'race' }, LABELS_TABLE)));
    const uuids = await Promise.all(opened.map(async (t) => (await loadTable(t)).metadata['table-uuid']));
    expect(new Set(uuids).size).toBe(1);
    expect((await filesUnder(opened[0]!.dir)).filter((f) => f.endsWith('.metadata.json'))).toEqual(['metadata/v1.metadata.json']);
  });
});

describe('snapshot isolation, compaction and expiry', () => {
  it('a reader pinned to a snapshot sees exactly its rows while appends and a compaction land', async () => {
    const table = await openTable({ warehouse, database: 'isolation' }, EVENTS_TABLE);
    for (let i = 0; i < 4; i++) await appendRows(table, eventRows('iso', i * 20, 20));
    const pinned = (await loadTable(table)).metadata['current-snapshot-id'];
    const expected = byId(eventRows('iso', 0, 80));
    const writes = (async () => {
      for (let i = 4; i < 8; i++) await appendRows(table, eventRows('iso', i * 20, 20));
      await compact(table);
      for (let i = 8; i < 10; i++) await appendRows(table, eventRows('iso', i * 20, 20));
    })();
    const reads: EventsRow[][] = [];
    let done = false;
    void writes.finally(() => (done = true));
    while (!done) reads.push(await readRows(table, { snapshot: { snapshotId: pinned } }));
    await writes;
    reads.push(await readRows(table, { snapshot: { snapshotId: pinned } }));
    expect(reads.length).toBeGreaterThan(1);
    for (const rows of reads) expect(byId(rows)).toEqual(expected);
    expect(byId(await readRows(table))).toEqual(byId(eventRows('iso', 0, 200)));
  });

  it('compaction rewrites the small files of each partition into one, as a replace snapshot with the same rows', async () => {
    const table = await openTable({ warehouse, database: 'compaction' }, EVENTS_TABLE);
    for (let i = 0; i < 5; i++) await appendRows(table, eventRows('cmp', i * 30, 30));
    const before = await listDataFiles(table);
    expect(before.files).toHaveLength(15);
    const result = await compact(table);
    expect(result).toMatchObject({ partitions: 3, rewrittenFiles: 15, addedFiles: 3, records: 150 });
    const after = await listDataFiles(table);
    expect(after.files).toHaveLength(3);
    expect(after.snapshot?.summary).toMatchObject({ operation: 'replace', 'deleted-data-files': '15', 'added-data-files': '3', 'total-records': '150', 'total-data-files': '3' });
    expect(byId(await readRows(table))).toEqual(byId(eventRows('cmp', 0, 150)));
    expect(byId(await readRows(table, { snapshot: { snapshotId: before.snapshot!['snapshot-id'] } }))).toEqual(byId(eventRows('cmp', 0, 150)));
    expect(await compact(table)).toBeNull();
    // A file already at the target size is left alone.
    await appendRows(table, eventRows('cmp', 150, 30));
    expect(await compact(table, { targetFileSizeBytes: 1 })).toBeNull();
  });

  it('expiry drops old snapshots and deletes exactly the files no kept snapshot references', async () => {
    const table = await openTable({ warehouse, database: 'expiry' }, EVENTS_TABLE);
    for (let i = 0; i < 4; i++) await appendRows(table, eventRows('exp', i * 30, 30));
    const old = (await loadTable(table)).metadata.snapshots[0]!['snapshot-id'];
    await compact(table);
    await appendRows(table, eventRows('exp', 120, 30));
    const nothing = await expireSnapshots(table, { olderThan: 0, retainLast: 1 });
    expect(nothing.expiredSnapshotIds).toEqual([]);
    const result = await expireSnapshots(table, { olderThan: new Date(Date.now() + 1_000), retainLast: 2 });
    expect(result.expiredSnapshotIds).toHaveLength(4);
    expect(result.deletedDataFiles).toBe(12); // the appends' files, compacted away
    expect(result.deletedManifestLists).toBe(4);
    const { metadata } = await loadTable(table);
    expect(metadata.snapshots.map((s) => s.summary.operation)).toEqual(['replace', 'append']);
    expect(byId(await readRows(table))).toEqual(byId(eventRows('exp', 0, 150)));
    await expect(readRows(table, { snapshot: { snapshotId: old } })).rejects.toThrow(/no snapshot/);
    // Every data file on disk is one a kept snapshot reads, and every one it reads is on disk.
    const onDisk = (await filesUnder(table.dir)).filter((f) => f.startsWith('data/')).map((f) => join(table.dir, f)).sort();
    const referenced = new Set<string>();
    for (const s of metadata.snapshots) for (const f of (await listDataFiles(table, { snapshot: { snapshotId: s['snapshot-id'] } })).files) referenced.add(f.path);
    expect(onDisk).toEqual([...referenced].sort());
  });
});
