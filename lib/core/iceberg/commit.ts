// Commit planning: given the table as last read (the base), the manifests this commit wrote and the
// ones it carries forward, the manifest list, snapshot and metadata of the next version. Pure, so a
// writer that loses the race for version N+1 re-runs it on the new base: appended manifests are
// reused as they are, only the list and the metadata are written again (sequence numbers are
// inherited, which is what makes that possible).
import { currentSnapshot, withSnapshot } from './metadata';
import { toManifestFile, type PendingManifest } from './manifest';
import type { ManifestFile, Snapshot, SnapshotOperation, SnapshotSummary, TableMetadata } from './types';

export interface ChangeCounts {
  readonly dataFiles: number;
  readonly records: number;
  readonly filesSize: number;
}

export const NO_CHANGE: ChangeCounts = { dataFiles: 0, records: 0, filesSize: 0 };

export interface CommitPlanInput {
  readonly base: TableMetadata;
  /** Where `base` was read from; goes into the metadata log. */
  readonly baseLocation: string;
  readonly operation: SnapshotOperation;
  readonly snapshotId: number;
  readonly nowMs: number;
  readonly manifestListLocation: string;
  /** Manifests written by this commit, listed first (as the reference implementation does). */
  readonly newManifests: readonly PendingManifest[];
  /** Manifests of the base's current snapshot that this commit keeps as they are. */
  readonly carriedManifests: readonly ManifestFile[];
  readonly added: ChangeCounts;
  readonly deleted: ChangeCounts;
  readonly changedPartitions: number;
}

export interface CommitPlan {
  readonly manifestList: readonly ManifestFile[];
  readonly snapshot: Snapshot;
  readonly metadata: TableMetadata;
}

export function planCommit(input: CommitPlanInput): CommitPlan {
  const { base } = input;
  const parent = currentSnapshot(base);
  const sequenceNumber = base['last-sequence-number'] + 1;
  // A commit never goes back in time, even when this machine's clock is behind the last writer's:
  // time travel by timestamp relies on the snapshot log being in order.
  const timestampMs = Math.max(input.nowMs, base['last-updated-ms'], parent ? parent['timestamp-ms'] : 0);
  const manifestList = [...input.newManifests.map((m) => toManifestFile(m, sequenceNumber, input.snapshotId)), ...input.carriedManifests];
  const snapshot: Snapshot = {
    'snapshot-id': input.snapshotId,
    ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
    'sequence-number': sequenceNumber,
    'timestamp-ms': timestampMs,
    'manifest-list': input.manifestListLocation,
    summary: snapshotSummary(input.operation, parent, input.added, input.deleted, input.changedPartitions),
    'schema-id': base['current-schema-id'],
  };
  return { manifestList, snapshot, metadata: withSnapshot(base, input.baseLocation, snapshot) };
}

/** The spec's optional summary metrics (Appendix F), totals carried from the parent's summary. */
export function snapshotSummary(operation: SnapshotOperation, parent: Snapshot | null, added: ChangeCounts, deleted: ChangeCounts, changedPartitions: number): SnapshotSummary {
  const summary: Record<string, string> = { operation };
  const put = (key: string, value: number) => {
    if (value !== 0) summary[key] = String(value);
  };
  put('added-data-files', added.dataFiles);
  put('added-records', added.records);
  put('added-files-size', added.filesSize);
  put('deleted-data-files', deleted.dataFiles);
  put('deleted-records', deleted.records);
  put('removed-files-size', deleted.filesSize);
  summary['changed-partition-count'] = String(changedPartitions);
  const total = (key: string, delta: number) => {
    const before = parent ? Number(parent.summary[key]) : 0;
    // A parent written elsewhere may lack totals; then ours would be wrong, so leave them out.
    if (Number.isFinite(before)) summary[key] = String(before + delta);
  };
  total('total-data-files', added.dataFiles - deleted.dataFiles);
  total('total-records', added.records - deleted.records);
  total('total-files-size', added.filesSize - deleted.filesSize);
  total('total-delete-files', 0);
  total('total-position-deletes', 0);
  total('total-equality-deletes', 0);
  summary['engine-name'] = 'fathom';
  return summary as SnapshotSummary;
}

/** A positive snapshot id, at most 2^53 - 1, from 53 random bits, that the table does not use yet. */
export function snapshotIdFrom(randomBits: () => number, metadata: TableMetadata): number {
  for (;;) {
    const id = randomBits();
    if (id > 0 && Number.isSafeInteger(id) && !metadata.snapshots.some((s) => s['snapshot-id'] === id)) return id;
  }
}
