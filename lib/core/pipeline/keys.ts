import type { EntityKind } from './ports';

/** Online-store partition key of an entity: one item per entity, kinds side by side in one table. */
export const entityKey = (kind: EntityKind, id: string): string => `${kind}#${id}`;

/** Kinesis sequence numbers are decimal strings of up to 128 bits: compare them as integers. */
export function seqAfter(a: string, b: string | undefined): boolean {
  if (b === undefined) return true;
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** `base` with each shard's entry raised to the highest sequence number among `entries`. */
export function withHighestSeq(base: Readonly<Record<string, string>> | undefined, entries: Iterable<{ readonly shardId: string; readonly seq: string }>): Record<string, string> {
  const out: Record<string, string> = { ...(base ?? {}) };
  for (const e of entries) if (seqAfter(e.seq, out[e.shardId])) out[e.shardId] = e.seq;
  return out;
}
