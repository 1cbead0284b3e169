// Compaction planning: which small data files of a partition to rewrite into one, and the manifest
// entries of the resulting `replace` snapshot.
import { ResourceError } from '../errors';
import { addedEntry } from './manifest';
import { partitionKey } from './transforms';
import type { DataFile, ManifestEntry, PartitionTuple, ResolvedEntry } from './types';
import { ENTRY_STATUS } from './types';

export interface CompactionOptions {
  /** Files at least this big are left alone (default 128 MiB, the reference implementation's target). */
  readonly targetFileSizeBytes: number;
  /** A partition is rewritten only when it has at least this many small files (at least 2). */
  readonly minInputFiles: number;
  /** Restricts compaction to the partitions it accepts. */
  readonly partitions?: (partition: PartitionTuple) => boolean;
}

export interface CompactionGroup {
  readonly partition: PartitionTuple;
  readonly files: readonly ResolvedEntry[];
}

/** Per partition, the small live files to merge, in the order they were added. */
export function planCompaction(live: readonly ResolvedEntry[], options: CompactionOptions): CompactionGroup[] {
  const groups = new Map<string, { partition: PartitionTuple; files: ResolvedEntry[] }>();
  for (const entry of live) {
    const file = entry.data_file;
    if (entry.status === ENTRY_STATUS.deleted || file.content !== 0 || file.file_size_in_bytes >= options.targetFileSizeBytes) continue;
    if (options.partitions && !options.partitions(file.partition)) continue;
    const key = partitionKey(file.partition);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { partition: file.partition, files: [] }));
    group.files.push(entry);
  }
  const minimum = Math.max(2, options.minInputFiles);
  return [...groups.values()]
    .filter((g) => g.files.length >= minimum)
    .map((g) => ({ partition: g.partition, files: [...g.files].sort((a, b) => a.sequence_number - b.sequence_number) }));
}

/**
 * The entries of the one manifest a replace snapshot writes: every live file of the base stays
 * (EXISTING, with its sequence numbers written out, as the spec requires of non-added entries),
 * replaced files become DELETED, and the rewritten files are ADDED. Fails when a file to replace is
 * no longer live: another commit removed it, and replacing it again would resurrect its rows.
 */
export function replaceEntries(live: readonly ResolvedEntry[], replaced: ReadonlySet<string>, added: readonly DataFile[], snapshotId: number, table: string): ManifestEntry[] {
  const livePaths = new Set(live.filter((e) => e.status !== ENTRY_STATUS.deleted).map((e) => e.data_file.file_path));
  for (const path of replaced) {
    if (!livePaths.has(path)) throw new ResourceError(`${table}: ${path} is no longer in the table; the compaction that would replace it is abandoned`, table, true);
  }
  const entries: ManifestEntry[] = added.map(addedEntry);
  for (const e of live) {
    if (e.status === ENTRY_STATUS.deleted) continue;
    const gone = replaced.has(e.data_file.file_path);
    entries.push({
      status: gone ? ENTRY_STATUS.deleted : ENTRY_STATUS.existing,
      snapshot_id: gone ? snapshotId : e.snapshot_id,
      sequence_number: e.sequence_number,
      file_sequence_number: e.file_sequence_number,
      data_file: e.data_file,
    });
  }
  return entries;
}
