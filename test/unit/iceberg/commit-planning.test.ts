import { describe, expect, it } from 'vitest';
import { ResourceError } from '../../../lib/core/errors';
import {
  ENTRY_STATUS,
  NO_CHANGE,
  addedEntry,
  manifestEntryFromAvro,
  manifestEntryToAvro,
  manifestFileFromAvro,
  manifestFileToAvro,
  newTableMetadata,
  parseTableMetadata,
  planCommit,
  planCompaction,
  replaceEntries,
  resolveEntries,
  selectSnapshot,
  snapshotsToExpire,
  summarizeManifest,
  withoutSnapshots,
  type DataFile,
  type ManifestFile,
  type PendingManifest,
  type ResolvedEntry,
  type TableMetadata,
} from '../../../lib/core/iceberg';
import { LABELS_TABLE } from '../../../lib/core/offline/tables';

const LOCATION = 'file:///w/fathom/labels';
const spec = LABELS_TABLE.partitionSpec;

function dataFile(name: string, day: number, records: number, size = 1000): DataFile {
  return {
    content: 0,
    file_path: `${LOCATION}/data/labeled_at_day=${day}/${name}.parquet`,
    file_format: 'PARQUET',
    partition: { labeled_at_day: day },
    record_count: records,
    file_size_in_bytes: size,
    value_counts: null,
    null_value_counts: null,
    nan_value_counts: null,
    lower_bounds: null,
    upper_bounds: null,
  };
}

function pending(name: string, files: DataFile[]): PendingManifest {
  return summarizeManifest(`${LOCATION}/metadata/${name}-m0.avro`, 500, spec, files.map(addedEntry));
}

/** Commits a chain of appends in memory; returns each version's metadata and manifest list. */
function chain(appends: DataFile[][], clock: number[]): { versions: TableMetadata[]; lists: ManifestFile[][] } {
  let metadata = newTableMetadata({ definition: LABELS_TABLE, tableUuid: 'uuid', location: LOCATION, timestampMs: 1_000 });
  const versions = [metadata];
  const lists: ManifestFile[][] = [];
  let carried: ManifestFile[] = [];
  appends.forEach((files, i) => {
    const plan = planCommit({
      base: metadata,
      baseLocation: `${LOCATION}/metadata/v${i + 1}.metadata.json`,
      operation: 'append',
      snapshotId: 100 + i,
      nowMs: clock[i] ?? 0,
      manifestListLocation: `${LOCATION}/metadata/snap-${100 + i}.avro`,
      newManifests: [pending(`c${i}`, files)],
      carriedManifests: carried,
      added: { dataFiles: files.length, records: files.reduce((s, f) => s + f.record_count, 0), filesSize: files.length * 1000 },
      deleted: NO_CHANGE,
      changedPartitions: new Set(files.map((f) => f.partition['labeled_at_day'])).size,
    });
    metadata = plan.metadata;
    carried = [...plan.manifestList];
    versions.push(metadata);
    lists.push(carried);
  });
  return { versions, lists };
}

describe('commit planning', () => {
  it('a new table has every v2 required field and no snapshot', () => {
    const m = newTableMetadata({ definition: LABELS_TABLE, tableUuid: 'u', location: LOCATION, timestampMs: 5 });
    for (const key of ['format-version', 'table-uuid', 'location', 'last-sequence-number', 'last-updated-ms', 'last-column-id', 'schemas', 'current-schema-id', 'partition-specs', 'default-spec-id', 'last-partition-id', 'sort-orders', 'default-sort-order-id']) {
      expect(m).toHaveProperty([key]);
    }
    expect(m['current-snapshot-id']).toBe(-1);
    expect(selectSnapshot(m, undefined, 'labels')).toBeNull();
    expect(parseTableMetadata(JSON.parse(JSON.stringify(m)), 'v1')).toEqual(m);
  });

  it('appends: sequence numbers count up, parents link, new manifests first with the new sequence number, old ones untouched', () => {
    const { versions, lists } = chain([[dataFile('a', 1, 3)], [dataFile('b', 1, 2), dataFile('c', 2, 4)], [dataFile('d', 3, 1)]], [2_000, 3_000, 4_000]);
    const last = versions[3]!;
    expect(last['last-sequence-number']).toBe(3);
    expect(last.snapshots.map((s) => [s['snapshot-id'], s['parent-snapshot-id'], s['sequence-number']])).toEqual([
      [100, undefined, 1],
      [101, 100, 2],
      [102, 101, 3],
    ]);
    expect(last['current-snapshot-id']).toBe(102);
    expect(last.refs['main']).toEqual({ 'snapshot-id': 102, type: 'branch' });
    expect(last['metadata-log'].map((e) => e['metadata-file'])).toEqual([1, 2, 3].map((v) => `${LOCATION}/metadata/v${v}.metadata.json`));
    expect(lists[2]!.map((m) => [m.manifest_path.split('/').at(-1), m.sequence_number, m.min_sequence_number, m.added_snapshot_id])).toEqual([
      ['c2-m0.avro', 3, 3, 102],
      ['c1-m0.avro', 2, 2, 101],
      ['c0-m0.avro', 1, 1, 100],
    ]);
    expect(last.snapshots[2]!.summary).toMatchObject({ operation: 'append', 'added-records': '1', 'total-records': '10', 'total-data-files': '4', 'changed-partition-count': '1' });
  });

  it('a commit never goes back in time, so as-of lookups stay ordered', () => {
    const { versions } = chain([[dataFile('a', 1, 1)], [dataFile('b', 1, 1)]], [5_000, 4_000]);
    const times = versions[2]!['snapshot-log'].map((e) => e['timestamp-ms']);
    expect(times).toEqual([5_000, 5_000]);
  });

  it('selects snapshots by id and as of a time (the last one at or before it), with errors naming the table', () => {
    const m = chain([[dataFile('a', 1, 1)], [dataFile('b', 1, 1)], [dataFile('c', 1, 1)]], [2_000, 3_000, 4_000]).versions[3]!;
    expect(selectSnapshot(m, undefined, 'labels')?.['snapshot-id']).toBe(102);
    expect(selectSnapshot(m, { snapshotId: 101 }, 'labels')?.['snapshot-id']).toBe(101);
    expect(selectSnapshot(m, { asOfMs: 2_999 }, 'labels')?.['snapshot-id']).toBe(100);
    expect(selectSnapshot(m, { asOfMs: 3_000 }, 'labels')?.['snapshot-id']).toBe(101);
    expect(selectSnapshot(m, { asOfMs: 9_999 }, 'labels')?.['snapshot-id']).toBe(102);
    expect(() => selectSnapshot(m, { asOfMs: 1_999 }, 'labels')).toThrow(/labels: no snapshot as of/);
    expect(() => selectSnapshot(m, { snapshotId: 7 }, 'labels')).toThrow(ResourceError);
  });

  it('expiry keeps the newest retainLast and anything newer than the cutoff, and prunes the snapshot log', () => {
    const m = chain([[dataFile('a', 1, 1)], [dataFile('b', 1, 1)], [dataFile('c', 1, 1)], [dataFile('d', 1, 1)]], [2_000, 3_000, 4_000, 5_000]).versions[4]!;
    expect(snapshotsToExpire(m, { olderThanMs: 10_000, retainLast: 2 }).map((s) => s['snapshot-id'])).toEqual([100, 101]);
    expect(snapshotsToExpire(m, { olderThanMs: 3_500, retainLast: 1 }).map((s) => s['snapshot-id'])).toEqual([100, 101]);
    expect(snapshotsToExpire(m, { olderThanMs: 10_000, retainLast: 0 }).map((s) => s['snapshot-id'])).toEqual([100, 101, 102]);
    const after = withoutSnapshots(m, 'v5', new Set([100, 101]), 6_000);
    expect(after.snapshots.map((s) => s['snapshot-id'])).toEqual([102, 103]);
    expect(after['snapshot-log'].map((e) => e['snapshot-id'])).toEqual([102, 103]);
    expect(() => selectSnapshot(after, { asOfMs: 3_500 }, 'labels')).toThrow(/history starts at/);
    expect(() => withoutSnapshots(m, 'v5', new Set([103]), 6_000)).toThrow(/current snapshot/);
  });

  it('refuses metadata it cannot read correctly, naming the file and the field', () => {
    const m = newTableMetadata({ definition: LABELS_TABLE, tableUuid: 'u', location: LOCATION, timestampMs: 5 });
    expect(() => parseTableMetadata({ ...m, 'format-version': 3 }, 'v9.metadata.json')).toThrow(/v9.metadata.json: .*format-version/);
    expect(() => parseTableMetadata({ ...m, 'current-snapshot-id': 2 ** 60 }, 'v9.metadata.json')).toThrow(/current-snapshot-id/);
    expect(parseTableMetadata({ ...m, 'current-snapshot-id': null, extra: 1 }, 'x')).toMatchObject({ 'current-snapshot-id': -1, extra: 1 });
  });
});

describe('manifests: records and inheritance', () => {
  const list: ManifestFile = {
    manifest_path: `${LOCATION}/metadata/x-m0.avro`, manifest_length: 10, partition_spec_id: 0, content: 0, sequence_number: 7, min_sequence_number: 3, added_snapshot_id: 42,
    added_files_count: 1, existing_files_count: 1, deleted_files_count: 0, added_rows_count: 1, existing_rows_count: 1, deleted_rows_count: 0, partitions: null,
  };

  it('added entries inherit snapshot id and sequence numbers; existing ones must carry theirs', () => {
    const added = addedEntry(dataFile('a', 1, 1));
    const existing = { status: ENTRY_STATUS.existing, snapshot_id: 9, sequence_number: 3, file_sequence_number: 3, data_file: dataFile('b', 1, 1) };
    expect(resolveEntries([added, existing], list).map((e) => [e.snapshot_id, e.sequence_number, e.file_sequence_number])).toEqual([
      [42, 7, 7],
      [9, 3, 3],
    ]);
    expect(() => resolveEntries([{ ...existing, sequence_number: null }], list)).toThrow(/no sequence numbers/);
  });

  it('records survive the Avro value form', () => {
    const entry = { ...addedEntry(dataFile('a', 1, 2)), data_file: { ...dataFile('a', 1, 2), value_counts: [{ key: 1, value: 2 }], lower_bounds: [{ key: 3, value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }] } };
    expect(manifestEntryFromAvro(manifestEntryToAvro(entry), 'm')).toEqual(entry);
    expect(manifestFileFromAvro(manifestFileToAvro(list), 'l')).toEqual(list);
  });

  it('summaries count by status and bound the partition days', () => {
    const summary = summarizeManifest('p', 1, spec, [addedEntry(dataFile('a', 5, 2)), { status: ENTRY_STATUS.existing, snapshot_id: 1, sequence_number: 2, file_sequence_number: 2, data_file: dataFile('b', 3, 4) }, { status: ENTRY_STATUS.deleted, snapshot_id: 1, sequence_number: 1, file_sequence_number: 1, data_file: dataFile('c', 9, 8) }]);
    expect(summary).toMatchObject({ addedFiles: 1, existingFiles: 1, deletedFiles: 1, addedRows: 2, existingRows: 4, deletedRows: 8, minExistingSequenceNumber: 2 });
    const [field] = summary.partitions;
    expect(new DataView(field!.lower_bound!.buffer).getInt32(0, true)).toBe(3);
    expect(new DataView(field!.upper_bound!.buffer).getInt32(0, true)).toBe(9);
  });
});

describe('compaction planning', () => {
  const live = (name: string, day: number, seq: number, size: number): ResolvedEntry => ({ status: ENTRY_STATUS.existing, snapshot_id: seq, sequence_number: seq, file_sequence_number: seq, data_file: dataFile(name, day, 10, size) });

  it('groups the small files of partitions that have enough of them', () => {
    const entries = [live('a', 1, 1, 10), live('b', 1, 2, 10), live('big', 1, 3, 10_000), live('c', 2, 1, 10), live('d', 3, 2, 10), live('e', 3, 1, 10)];
    const groups = planCompaction(entries, { targetFileSizeBytes: 1_000, minInputFiles: 2 });
    expect(groups.map((g) => [g.partition['labeled_at_day'], g.files.map((f) => f.data_file.file_path.split('/').at(-1))])).toEqual([
      [1, ['a.parquet', 'b.parquet']],
      [3, ['e.parquet', 'd.parquet']],
    ]);
    expect(planCompaction(entries, { targetFileSizeBytes: 1_000, minInputFiles: 2, partitions: (p) => p['labeled_at_day'] === 3 })).toHaveLength(1);
  });

  it('a replace keeps other files (existing), drops the replaced (deleted) and adds the new, and refuses a file already gone', () => {
    const entries = [live('a', 1, 1, 10), live('b', 1, 2, 10), live('c', 2, 1, 10)];
    const replaced = new Set([entries[0]!.data_file.file_path, entries[1]!.data_file.file_path]);
    const next = replaceEntries(entries, replaced, [dataFile('ab', 1, 20)], 77, 'labels');
    expect(next.map((e) => [e.data_file.file_path.split('/').at(-1), e.status, e.snapshot_id, e.sequence_number])).toEqual([
      ['ab.parquet', ENTRY_STATUS.added, null, null],
      ['a.parquet', ENTRY_STATUS.deleted, 77, 1],
      ['b.parquet', ENTRY_STATUS.deleted, 77, 2],
      ['c.parquet', ENTRY_STATUS.existing, 1, 1],
    ]);
    expect(() => replaceEntries([entries[1]!, entries[2]!], replaced, [], 78, 'labels')).toThrow(/no longer in the table/);
  });
});
