// Optimistic concurrency: read the latest version, let the operation plan on it, try to create the
// next version; on a lost race clean up the attempt's files and go again on the new latest. No
// commit is lost — an append always applies to the new base — and the history stays linear,
// because version N+1 can be created exactly once.
import { randomInt } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResourceError } from '../../core/errors';
import type { TableMetadata } from '../../core/iceberg';
import { loadTable, publishVersionHint, tryCreateVersion, type IcebergTable, type TableState } from './table';

export interface PreparedCommit<T> {
  readonly metadata: TableMetadata;
  /** Files written for this attempt only (a manifest list, a rewritten manifest): removed if it loses. */
  readonly attemptFiles: readonly string[];
  readonly result: T;
}

export interface CommitOptions {
  /** Attempts before giving up (default 200): each lost race costs one. */
  readonly maxAttempts?: number;
}

export interface Committed<T> {
  readonly version: number;
  readonly metadata: TableMetadata;
  readonly attempts: number;
  readonly result: T;
}

/**
 * Runs `prepare` on the latest table state until its metadata becomes the next version. `prepare`
 * returning null means there is nothing to commit (the result is then null).
 */
export async function commitWithRetry<T>(
  table: IcebergTable<unknown>,
  prepare: (base: TableState, attempt: number) => Promise<PreparedCommit<T> | null>,
  options: CommitOptions = {},
): Promise<Committed<T> | null> {
  const maxAttempts = options.maxAttempts ?? 200;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const base = await loadTable(table);
    const prepared = await prepare(base, attempt);
    if (!prepared) return null;
    const version = base.version + 1;
    if (await tryCreateVersion(table, version, prepared.metadata)) {
      // Committed: from here nothing may fail the call, or the caller would delete files that
      // the table now references. The hint is only a hint; readers probe past a stale one.
      await publishVersionHint(table).catch(() => undefined);
      return { version, metadata: prepared.metadata, attempts: attempt, result: prepared.result };
    }
    await Promise.all(prepared.attemptFiles.map((path) => unlink(path).catch(() => undefined)));
    // Jitter, growing a little with each lost race, so writers that collided do not collide again.
    await sleep(randomInt(0, Math.min(50, 2 ** attempt) + 1));
  }
  throw new ResourceError(`${table.name}: commit gave up after ${maxAttempts} attempts lost to concurrent writers`, table.name, true);
}

/** A random snapshot id source: 53 bits, so ids stay exact in JSON and JavaScript. */
export const random53 = (): number => randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
