// Table maintenance, locally what Glue's table optimizers do on AWS: compaction (small files of a
// partition rewritten into one, as a `replace` snapshot with the same rows) and snapshot expiry
// (old snapshots dropped from the metadata, then the files no kept snapshot references deleted).
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ResourceError } from '../../core/errors';
import {
  ENTRY_STATUS,
  currentSnapshot,
  planCommit,
  planCompaction,
  replaceEntries,
  snapshotIdFrom,
  snapshotsToExpire,
  withoutSnapshots,
  type CompactionOptions,
  type IcebergTableDefinition,
  type PhysicalRow,
} from '../../core/iceberg';
import { writeDataFiles, type WrittenFile } from './append';
import { commitWithRetry, random53, type CommitOptions } from './commit-loop';
import { readManifest, readManifestList, readSnapshotEntries, writeManifest, writeManifestList } from './manifest-files';
import { readPhysicalRows } from './reader';
import { loadTable, metadataDir, toLocalPath, toUri, type IcebergTable } from './table';

export interface CompactOptions extends Partial<CompactionOptions>, CommitOptions {}

export interface CompactResult {
  readonly snapshotId: number;
  readonly metadataVersion: number;
  readonly partitions: number;
  readonly rewrittenFiles: number;
  readonly addedFiles: number;
  readonly records: number;
  /** 1 when no other writer committed in between; more when it had to rebase. */
  readonly attempts: number;
}

export const DEFAULT_TARGET_FILE_SIZE_BYTES = 128 * 1024 * 1024;

/**
 * Rewrites the small data files of each partition that has at least `minInputFiles` of them (default
 * 2) into one file, and folds all manifests into one, in a single `replace` commit. Null when there
 * is nothing to compact. Concurrent appends are rebased over; a concurrent compaction that already
 * replaced one of the files makes this one give up (ResourceError, retryable) with nothing changed.
 */
export async function compact(table: IcebergTable<unknown>, options: CompactOptions = {}): Promise<CompactResult | null> {
  const definition = table.definition as IcebergTableDefinition<unknown>;
  const planOptions: CompactionOptions = {
    targetFileSizeBytes: options.targetFileSizeBytes ?? DEFAULT_TARGET_FILE_SIZE_BYTES,
    minInputFiles: options.minInputFiles ?? 2,
    ...(options.partitions ? { partitions: options.partitions } : {}),
  };
  const start = await readSnapshotEntries(table, currentSnapshot((await loadTable(table)).metadata));
  const live = start.entries.filter((e) => e.status !== ENTRY_STATUS.deleted);
  const groups = planCompaction(live, planOptions);
  if (groups.length === 0) return null;

  const commitId = randomUUID();
  const written: WrittenFile[] = [];
  let replacedRecords = 0;
  let replacedSize = 0;
  const replaced = new Set<string>();
  try {
    for (const group of groups) {
      const rows = (await readPhysicalRows(definition, group.files.map((f) => toLocalPath(f.data_file.file_path, table.name)))) as PhysicalRow[];
      const expected = group.files.reduce((sum, f) => sum + f.data_file.record_count, 0);
      if (rows.length !== expected) {
        throw new ResourceError(`${table.name}: read ${rows.length} rows from files whose manifests say ${expected}`, table.name, false);
      }
      written.push(...(await writeDataFiles(table, rows, `${commitId}-${written.length}`)));
      for (const f of group.files) {
        replaced.add(f.data_file.file_path);
        replacedRecords += f.data_file.record_count;
        replacedSize += f.data_file.file_size_in_bytes;
      }
    }
    const addedRecords = written.reduce((sum, f) => sum + f.dataFile.record_count, 0);
    const addedSize = written.reduce((sum, f) => sum + f.dataFile.file_size_in_bytes, 0);
    let snapshotId = 0;
    const committed = await commitWithRetry(
      table,
      async (base, attempt) => {
        if (snapshotId === 0 || base.metadata.snapshots.some((s) => s['snapshot-id'] === snapshotId)) snapshotId = snapshotIdFrom(random53, base.metadata);
        const { entries } = await readSnapshotEntries(table, currentSnapshot(base.metadata));
        // The base may hold appends made since we read; they are kept, only `replaced` is swapped.
        const next = replaceEntries(entries, replaced, written.map((f) => f.dataFile), snapshotId, table.name);
        const manifestName = `${commitId}-m${attempt}.avro`;
        const manifest = await writeManifest(table, base.metadata, manifestName, next);
        const listPath = join(metadataDir(table), `snap-${snapshotId}-${attempt}-${commitId}.avro`);
        const plan = planCommit({
          base: base.metadata,
          baseLocation: base.metadataLocation,
          operation: 'replace',
          snapshotId,
          nowMs: Date.now(),
          manifestListLocation: toUri(listPath),
          newManifests: [manifest],
          carriedManifests: [],
          added: { dataFiles: written.length, records: addedRecords, filesSize: addedSize },
          deleted: { dataFiles: replaced.size, records: replacedRecords, filesSize: replacedSize },
          changedPartitions: groups.length,
        });
        await writeManifestList(table, listPath, plan.snapshot, plan.manifestList);
        return { metadata: plan.metadata, attemptFiles: [join(metadataDir(table), manifestName), listPath], result: plan.snapshot };
      },
      options,
    );
    if (!committed) throw new Error('unreachable: a compaction with groups always commits');
    return {
      snapshotId: committed.result['snapshot-id'],
      metadataVersion: committed.version,
      partitions: groups.length,
      rewrittenFiles: replaced.size,
      addedFiles: written.length,
      records: addedRecords,
      attempts: committed.attempts,
    };
  } catch (error) {
    await Promise.all(written.map((f) => unlink(f.path).catch(() => undefined)));
    throw error;
  }
}

export interface ExpireOptions extends CommitOptions {
  /** Snapshots committed before this instant may expire. */
  readonly olderThan: Date | number;
  /** The newest this-many snapshots of the current lineage stay whatever their age (at least 1). */
  readonly retainLast: number;
}

export interface ExpireResult {
  readonly expiredSnapshotIds: readonly number[];
  /** The version that dropped them; null when nothing expired. */
  readonly metadataVersion: number | null;
  readonly deletedDataFiles: number;
  readonly deletedManifests: number;
  readonly deletedManifestLists: number;
}

/**
 * Drops old snapshots from the metadata (one commit), then deletes the data files, manifests and
 * manifest lists that only they referenced. Old `v<N>.metadata.json` files stay: they are the
 * table's history, and version numbering relies on them. A reader pinned to an expired snapshot
 * can no longer read it — that is what expiry means.
 */
export async function expireSnapshots(table: IcebergTable<unknown>, options: ExpireOptions): Promise<ExpireResult> {
  const olderThanMs = typeof options.olderThan === 'number' ? options.olderThan : options.olderThan.getTime();
  const committed = await commitWithRetry(
    table,
    async (base) => {
      const expired = snapshotsToExpire(base.metadata, { olderThanMs, retainLast: options.retainLast });
      if (expired.length === 0) return null;
      const ids = new Set(expired.map((s) => s['snapshot-id']));
      return { metadata: withoutSnapshots(base.metadata, base.metadataLocation, ids, Date.now()), attemptFiles: [], result: { expired, base: base.metadata } };
    },
    options,
  );
  if (!committed) return { expiredSnapshotIds: [], metadataVersion: null, deletedDataFiles: 0, deletedManifests: 0, deletedManifestLists: 0 };

  // What the kept snapshots still need. Commits after ours only reference files that are live in
  // our current snapshot or newer than it, so this set is enough to protect them too.
  const keptManifests = new Set<string>();
  const keptDataFiles = new Set<string>();
  for (const snapshot of committed.metadata.snapshots) {
    const { manifests, entries } = await readSnapshotEntries(table, snapshot);
    for (const m of manifests) keptManifests.add(m.manifest_path);
    for (const e of entries) if (e.status !== ENTRY_STATUS.deleted) keptDataFiles.add(e.data_file.file_path);
  }
  const manifestLists = new Set<string>();
  const manifests = new Set<string>();
  const dataFiles = new Set<string>();
  for (const snapshot of committed.result.expired) {
    manifestLists.add(snapshot['manifest-list']);
    const list = await readManifestList(table, snapshot).catch(() => []);
    for (const m of list) {
      if (keptManifests.has(m.manifest_path)) continue;
      if (manifests.has(m.manifest_path)) continue;
      manifests.add(m.manifest_path);
      const entries = await readManifest(table, m).catch(() => []);
      for (const e of entries) if (!keptDataFiles.has(e.data_file.file_path)) dataFiles.add(e.data_file.file_path);
    }
  }
  const remove = async (uris: Set<string>) => {
    let removed = 0;
    for (const uri of uris) {
      try {
        await unlink(toLocalPath(uri, table.name));
        removed++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return removed;
  };
  return {
    expiredSnapshotIds: committed.result.expired.map((s) => s['snapshot-id']),
    metadataVersion: committed.version,
    deletedDataFiles: await remove(dataFiles),
    deletedManifests: await remove(manifests),
    deletedManifestLists: await remove(manifestLists),
  };
}
