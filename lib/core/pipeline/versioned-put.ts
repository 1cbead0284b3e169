// The one way the pipeline writes an item: conditioned on the version it read, and on conflict
// re-read and rebuilt from the newer item, a bounded number of times.
import { ResourceError } from '../errors';
import type { EntityWrite, OnlineStorePort, StoredEntity } from './ports';

/**
 * Builds the write from the item it will replace (`reloaded`: that item was just re-read after a
 * conflict, so state derived from the earlier one is stale). `undefined`: nothing to write.
 */
export type BuildWrite = (item: StoredEntity | undefined, reloaded: boolean) => Omit<EntityWrite, 'version'> | undefined;

/** Writes `pk`; returns the number of version conflicts it went through. */
export async function putVersioned(store: OnlineStorePort, pk: string, item: StoredEntity | undefined, build: BuildWrite, maxAttempts: number): Promise<number> {
  let current = item;
  let reloaded = false;
  for (let attempt = 1; ; attempt++) {
    const write = build(current, reloaded);
    if (write === undefined) return attempt - 1;
    const outcome = await store.put({ ...write, version: (current?.version ?? 0) + 1 }, current?.version ?? null);
    if (outcome === 'written') return attempt - 1;
    if (attempt >= maxAttempts) throw new ResourceError(`${pk}: version conflict persisted over ${maxAttempts} attempts`, pk, true);
    current = await store.get(pk);
    reloaded = true;
  }
}
