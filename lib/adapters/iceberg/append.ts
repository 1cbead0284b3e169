// appendRows: one call, one atomic commit. Rows are validated (all or nothing, the error names the
// row and field), grouped by partition, written as one Parquet file per partition, listed in one
// new manifest, and committed as an `append` snapshot that carries the previous manifests forward.
import { randomUUID } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  addedEntry,
  currentSnapshot,
  fileMetrics,
  parseRows,
  partitionKey,
  partitionOf,
  partitionPath,
  partitionSources,
  planCommit,
  snapshotIdFrom,
  toPhysicalRow,
  NO_CHANGE,
  type DataFile,
  type IcebergTableDefinition,
  type PartitionTuple,
  type PhysicalRow,
} from '../../core/iceberg';
import { commitWithRetry, random53, type CommitOptions } from './commit-loop';
import { readManifestList, writeManifest, writeManifestList } from './manifest-files';
import { encodeParquetDataFile } from './parquet-data-file';
import { dataDir, metadataDir, toUri, type IcebergTable, type TableState } from './table';

export interface AppendOptions extends CommitOptions {
  /**
   * Checked on every attempt against the table state the commit would apply to, before it is
   * planned: throw to abandon the append (its files are removed, the error is the call's). A
   * writer that must not commit over what another committed since it last looked (Iceberg's
   * conflict validation) checks here: the commit only lands if nothing changed after the check.
   */
  readonly validate?: (base: TableState) => Promise<void>;
}

export interface AppendResult {
  readonly snapshotId: number;
  readonly sequenceNumber: number;
  /** The metadata version this commit created (`v<N>.metadata.json`). */
  readonly metadataVersion: number;
  readonly records: number;
  readonly dataFiles: number;
  /** 1 when no other writer committed in between; more when it had to rebase. */
  readonly attempts: number;
}

export interface WrittenFile {
  readonly path: string;
  readonly dataFile: DataFile;
}

/** Writes one Parquet data file per partition of the rows; the caller commits (or deletes) them. */
export async function writeDataFiles(table: IcebergTable<unknown>, rows: readonly PhysicalRow[], commitId: string): Promise<WrittenFile[]> {
  const definition = table.definition as IcebergTableDefinition<unknown>;
  const sources = partitionSources(definition.schema, definition.partitionSpec, table.name);
  const groups = new Map<string, { partition: PartitionTuple; rows: PhysicalRow[] }>();
  for (const row of rows) {
    const partition = partitionOf(sources, row);
    const key = partitionKey(partition);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { partition, rows: [] }));
    group.rows.push(row);
  }
  return Promise.all(
    [...groups.values()].map(async ({ partition, rows: groupRows }, i) => {
      const path = join(dataDir(table), partitionPath(partition), `${String(i).padStart(5, '0')}-${commitId}.parquet`);
      const bytes = encodeParquetDataFile(definition, groupRows);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes, { flag: 'wx' });
      const metrics = fileMetrics(definition, groupRows);
      const dataFile: DataFile = {
        content: 0,
        file_path: toUri(path),
        file_format: 'PARQUET',
        partition,
        record_count: groupRows.length,
        file_size_in_bytes: bytes.length,
        ...metrics,
      };
      return { path, dataFile };
    }),
  );
}

/**
 * Appends rows to the table in one atomic commit. Throws a ValidationError naming `rows[i].<field>`
 * before anything is written if a row is invalid; returns null for no rows (nothing to commit).
 * Safe to call concurrently, from any number of processes: a writer that loses the race for the
 * next version rebases on the winner and tries again (after `validate`, when given), so every row
 * lands exactly once.
 */
export async function appendRows<Row>(table: IcebergTable<Row>, rows: readonly unknown[], options: AppendOptions = {}): Promise<AppendResult | null> {
  if (rows.length === 0) return null;
  const definition = table.definition;
  const physical = parseRows(definition, rows).map((row) => toPhysicalRow(definition, row));
  const commitId = randomUUID();
  const written = await writeDataFiles(table, physical, commitId);
  const manifestPath = join(metadataDir(table), `${commitId}-m0.avro`);
  try {
    const added = {
      dataFiles: written.length,
      records: physical.length,
      filesSize: written.reduce((sum, f) => sum + f.dataFile.file_size_in_bytes, 0),
    };
    let snapshotId = 0;
    // Written once: its entries inherit the snapshot id and sequence number from whichever
    // manifest list finally commits it.
    let manifest: Awaited<ReturnType<typeof writeManifest>> | undefined;
    const committed = await commitWithRetry(
      table,
      async (base, attempt) => {
        await options.validate?.(base);
        manifest ??= await writeManifest(table, base.metadata, `${commitId}-m0.avro`, written.map((f) => addedEntry(f.dataFile)));
        if (snapshotId === 0 || base.metadata.snapshots.some((s) => s['snapshot-id'] === snapshotId)) snapshotId = snapshotIdFrom(random53, base.metadata);
        const listPath = join(metadataDir(table), `snap-${snapshotId}-${attempt}-${commitId}.avro`);
        const plan = planCommit({
          base: base.metadata,
          baseLocation: base.metadataLocation,
          operation: 'append',
          snapshotId,
          nowMs: Date.now(),
          manifestListLocation: toUri(listPath),
          newManifests: [manifest],
          carriedManifests: await readManifestList(table, currentSnapshot(base.metadata)),
          added,
          deleted: NO_CHANGE,
          changedPartitions: written.length,
        });
        await writeManifestList(table, listPath, plan.snapshot, plan.manifestList);
        return { metadata: plan.metadata, attemptFiles: [listPath], result: plan.snapshot };
      },
      options,
    );
    if (!committed) throw new Error('unreachable: an append always has something to commit');
    return {
      snapshotId: committed.result['snapshot-id'],
      sequenceNumber: committed.result['sequence-number'],
      metadataVersion: committed.version,
      records: physical.length,
      dataFiles: written.length,
      attempts: committed.attempts,
    };
  } catch (error) {
    // Nothing references these files unless the commit succeeded.
    await Promise.all([...written.map((f) => f.path), manifestPath].map((path) => unlink(path).catch(() => undefined)));
    throw error;
  }
}
