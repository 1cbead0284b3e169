// Which snapshot a read uses (current, by id, as of a time) and which snapshots an expiry keeps.
import { ResourceError } from '../errors';
import { currentSnapshot } from './metadata';
import type { Snapshot, SnapshotSelector, TableMetadata } from './types';

/**
 * The snapshot a selector names, or null for the current snapshot of a table that has none.
 * As of a time, the spec (Appendix F) says to use the snapshot log: the last snapshot that was
 * current at or before that time; a time before the first entry is an error, not an empty table.
 */
export function selectSnapshot(metadata: TableMetadata, selector: SnapshotSelector, table: string): Snapshot | null {
  if (selector === undefined) return currentSnapshot(metadata);
  if ('snapshotId' in selector) {
    const found = metadata.snapshots.find((s) => s['snapshot-id'] === selector.snapshotId);
    if (!found) throw new ResourceError(`${table}: no snapshot ${selector.snapshotId} (never existed, or expired)`, table, false);
    return found;
  }
  const log = metadata['snapshot-log'];
  let chosen: number | undefined;
  for (const entry of log) {
    if (entry['timestamp-ms'] <= selector.asOfMs) chosen = entry['snapshot-id'];
    else break;
  }
  if (chosen === undefined) {
    const first = log[0];
    const since = first ? ` (its history starts at ${new Date(first['timestamp-ms']).toISOString()})` : ' (it has no snapshot yet)';
    throw new ResourceError(`${table}: no snapshot as of ${new Date(selector.asOfMs).toISOString()}${since}`, table, false);
  }
  const id = chosen;
  const found = metadata.snapshots.find((s) => s['snapshot-id'] === id);
  if (!found) throw new ResourceError(`${table}: snapshot ${id}, current as of ${new Date(selector.asOfMs).toISOString()}, has expired`, table, false);
  return found;
}

/** The current snapshot and its parents, newest first. */
export function ancestry(metadata: TableMetadata): Snapshot[] {
  const byId = new Map(metadata.snapshots.map((s) => [s['snapshot-id'], s]));
  const chain: Snapshot[] = [];
  let cursor = currentSnapshot(metadata);
  while (cursor && chain.length <= metadata.snapshots.length) {
    chain.push(cursor);
    const parent = cursor['parent-snapshot-id'];
    cursor = parent === undefined ? null : (byId.get(parent) ?? null);
  }
  return chain;
}

export interface ExpiryOptions {
  /** Snapshots committed before this time (epoch ms) may expire. */
  readonly olderThanMs: number;
  /** The newest this-many snapshots of the current lineage are kept whatever their age (at least 1). */
  readonly retainLast: number;
}

/**
 * The snapshots an expiry removes: older than the cutoff and not among the last `retainLast` of the
 * current lineage. The current snapshot always stays, as does anything a ref other than main names.
 */
export function snapshotsToExpire(metadata: TableMetadata, options: ExpiryOptions): Snapshot[] {
  const retain = new Set<number>();
  for (const s of ancestry(metadata).slice(0, Math.max(1, options.retainLast))) retain.add(s['snapshot-id']);
  for (const ref of Object.values(metadata.refs)) retain.add(ref['snapshot-id']);
  return metadata.snapshots.filter((s) => !retain.has(s['snapshot-id']) && s['timestamp-ms'] < options.olderThanMs);
}
