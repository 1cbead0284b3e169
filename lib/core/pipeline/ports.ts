// Interfaces the stream step needs from the outside world; lib/adapters implements them.
import type { LoggedVector } from '../features/engine';
import type { TimedEvent } from '../schemas/event';

/** `shard` items hold only the dead-letter checkpoint of a stream shard. */
export type EntityKind = 'card' | 'merchant' | 'shard';

export interface CardStats {
  applied: number;
  duplicates: number;
  late: number;
  too_late: number;
}

/** An online-store item as the pipeline sees it. */
export interface StoredEntity {
  readonly pk: string;
  readonly kind: EntityKind;
  readonly state: string;
  readonly version: number;
  /** Card items: ingest counters. */
  readonly stats?: CardStats;
  /** The highest stream sequence number absorbed, per shard: redelivered records are skipped exactly. */
  readonly seq?: Readonly<Record<string, string>>;
}

export interface EntityWrite extends StoredEntity {
  readonly featureSet: string;
  readonly features: Readonly<Record<string, number>>;
  /** Event time of the entity's newest event, epoch ms: the age of its features. */
  readonly asOf: number;
}

export type PutOutcome = 'written' | 'conflict';

export interface OnlineStorePort {
  /** Reads many items at once; missing keys are absent from the map. */
  getMany(pks: readonly string[]): Promise<Map<string, StoredEntity>>;
  /** Strongly consistent read of one item, after a conflict. */
  get(pk: string): Promise<StoredEntity | undefined>;
  /**
   * Writes an item if its stored version is still `expectedVersion` (null: it must not exist yet).
   * Throws a ResourceError (retryable or not) for anything but a version conflict.
   */
  put(item: EntityWrite, expectedVersion: number | null): Promise<PutOutcome>;
}

export interface DeadLetter {
  readonly reason: string;
  readonly field: string;
  readonly recordId: string;
  readonly shardId: string;
  readonly data: string;
}

export interface DeadLetterPort {
  /** Sends every letter or throws; a letter is never dropped silently. */
  send(letters: readonly DeadLetter[]): Promise<void>;
}

/** A decoded stream record: the Kinesis sequence number, its shard, and the payload text. */
export interface StreamRecord {
  readonly id: string;
  readonly shardId: string;
  readonly data: string;
}

/** A valid event of the batch with the record text it arrived in (the raw `events` row keeps it). */
export interface ReceivedEvent {
  readonly event: TimedEvent;
  readonly data: string;
}

/** A feature vector the stream committed: f(S, e) of one event of one card. */
export interface EntityVector extends LoggedVector {
  readonly entityId: string;
}

/**
 * The offline log (the `events` and `feature_log` tables). Delivery is at least once — a retried
 * batch logs again — so readers dedupe by event id; it is never at most once.
 */
export interface OfflineLogPort {
  /** Called before any state is written: a throw fails the whole batch, which then retries whole. */
  logEvents(events: readonly ReceivedEvent[]): Promise<void>;
  /** Called with the vectors of cards whose state was written; throws when they cannot be delivered. */
  logFeatures(vectors: readonly EntityVector[]): Promise<void>;
}
