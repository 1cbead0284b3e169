// One invocation of the feature-transform step over a batch of stream records.
//
// Within a batch, each entity is read once (BatchGetItem) and written once, conditioned on its
// version. Every item remembers the highest stream sequence number it absorbed per shard, so a
// redelivered record (a retried batch, a bisected half) never counts twice, however old its event.
// Write order keeps that exact across entities: merchant items first, then card items, and a card
// is written only if every merchant its events touched was written; otherwise its records fail
// and come back, and the merchants that did absorb them skip them by sequence number. Event-id
// dedupe in the engine is for the other kind of duplicate: the same event sent twice by a producer.
import { ValidationError, FathomError } from '../errors';
import { parseStreamEvent, type TimedEvent } from '../schemas/event';
import type { FeatureEngine, IngestResult } from '../features/engine';
import { deserializeCard, deserializeMerchant, serializeCard, serializeMerchant } from '../features/serialize';
import { emptyMerchantState, type CardState, type MerchantState } from '../features/state';
import { entityKey, seqAfter, withHighestSeq } from './keys';
import { putVersioned } from './versioned-put';
import type { CardStats, DeadLetter, EntityVector, DeadLetterPort, OfflineLogPort, OnlineStorePort, StoredEntity, StreamRecord } from './ports';

export interface FeatureBatchDeps {
  readonly engine: FeatureEngine;
  readonly store: OnlineStorePort;
  readonly deadLetters: DeadLetterPort;
  /** Where raw events and committed vectors are logged for the offline store; absent: not logged. */
  readonly offline?: OfflineLogPort;
  /** Attempts per entity write when its version moved underneath. Default 5. */
  readonly maxConflictAttempts?: number;
}

export interface FeatureBatchResult {
  /** Records that must be retried, each with the error that failed it. */
  readonly failed: Map<string, Error>;
  readonly vectors: EntityVector[];
  readonly counts: {
    valid: number;
    malformed: number;
    applied: number;
    duplicates: number;
    redelivered: number;
    late: number;
    tooLate: number;
    entitiesWritten: number;
    conflicts: number;
  };
}

interface ValidRecord {
  readonly record: StreamRecord;
  readonly event: TimedEvent;
}

interface MerchantWork {
  readonly pk: string;
  item: StoredEntity | undefined;
  state: MerchantState;
  /** This batch's contributions, to re-apply on top of a newer version after a conflict. */
  readonly deltas: { seq: string; shardId: string; ts: number; newCard: number }[];
}

const emptyStats = (): CardStats => ({ applied: 0, duplicates: 0, late: 0, too_late: 0 });

export async function processFeatureBatch(records: readonly StreamRecord[], deps: FeatureBatchDeps): Promise<FeatureBatchResult> {
  const { engine, store } = deps;
  const maxAttempts = deps.maxConflictAttempts ?? 5;
  const failed = new Map<string, Error>();
  const counts = { valid: 0, malformed: 0, applied: 0, duplicates: 0, redelivered: 0, late: 0, tooLate: 0, entitiesWritten: 0, conflicts: 0 };
  const vectors: FeatureBatchResult['vectors'] = [];

  // 1. Parse. A malformed record goes to the dead-letter queue with its reason and never holds back the rest.
  const valid: ValidRecord[] = [];
  const letters: DeadLetter[] = [];
  for (const record of records) {
    const parsed = parsePayload(record.data);
    if (parsed.ok) valid.push({ record, event: parsed.value });
    else letters.push({ reason: parsed.error.message, field: parsed.error.field, recordId: record.id, shardId: record.shardId, data: record.data });
  }
  counts.valid = valid.length;
  counts.malformed = letters.length;

  // 2. Read every entity of the batch once, and the dead-letter checkpoint of each shard with letters.
  const byCard = new Map<string, ValidRecord[]>();
  const merchantIds = new Set<string>();
  for (const v of valid) {
    const list = byCard.get(v.event.entity_id);
    if (list) list.push(v);
    else byCard.set(v.event.entity_id, [v]);
    merchantIds.add(v.event.merchant_id);
  }
  const cardPks = [...byCard.keys()].map((id) => entityKey('card', id));
  const merchantPks = [...merchantIds].map((id) => entityKey('merchant', id));
  const shardPks = [...new Set(letters.map((l) => entityKey('shard', l.shardId)))];
  let items: Map<string, StoredEntity>;
  try {
    items = await store.getMany([...cardPks, ...merchantPks, ...shardPks]);
  } catch (e) {
    for (const r of records) failed.set(r.id, asError(e));
    return { failed, vectors, counts };
  }

  // 3. Dead letters, each once: a redelivered batch skips letters its shard already sent.
  if (letters.length > 0) {
    const fresh = letters.filter((l) => seqAfter(l.recordId, items.get(entityKey('shard', l.shardId))?.seq?.[l.shardId]));
    counts.redelivered += letters.length - fresh.length;
    try {
      if (fresh.length > 0) {
        await deps.deadLetters.send(fresh);
        counts.conflicts += await checkpointDeadLetters(deps, fresh, items, maxAttempts);
      }
    } catch (e) {
      // Unsent letters retry with their records. A letter sent but not checkpointed may be sent
      // again on redelivery: at least once, never lost.
      for (const l of fresh) failed.set(l.recordId, asError(e));
    }
  }
  if (valid.length === 0) return { failed, vectors, counts };

  // Raw events are logged before any state moves: if that fails, the batch fails whole and
  // retries, so no event reaches the online store without its row in the `events` table.
  if (deps.offline) await deps.offline.logEvents(valid.map((v) => ({ event: v.event, data: v.record.data })));

  // 4. Load states. Those that fail to load fail their records (they retry, then reach the on-failure destination).
  const cards = new Map<string, CardWork>();
  const brokenCards = new Map<string, Error>();
  for (const [cardId] of byCard) {
    const pk = entityKey('card', cardId);
    const item = items.get(pk);
    try {
      cards.set(cardId, { item, state: item ? deserializeCard(engine, item.state) : engine.newCardState() });
    } catch (e) {
      brokenCards.set(cardId, asError(e));
    }
  }
  const merchants = new Map<string, MerchantWork>();
  const brokenMerchants = new Map<string, Error>();
  for (const merchantId of merchantIds) {
    const pk = entityKey('merchant', merchantId);
    const item = items.get(pk);
    try {
      merchants.set(merchantId, { pk, item, state: item ? deserializeMerchant(engine, item.state) : emptyMerchantState(), deltas: [] });
    } catch (e) {
      brokenMerchants.set(merchantId, asError(e));
    }
  }

  // 5. Compute, in record order: an event's merchant features must see every earlier event of its
  //    merchant in this batch, whichever card brought it (per-shard order is per-entity order).
  const stats = new Map<string, CardStats>();
  const cardMerchants = new Map<string, Set<string>>();
  // Vectors are released only with their card's write: a failed card's records come back and log then.
  const cardVectors = new Map<string, FeatureBatchResult['vectors']>();
  for (const [cardId, list] of byCard) {
    const broken = brokenCards.get(cardId) ?? list.map((v) => brokenMerchants.get(v.event.merchant_id)).find(Boolean);
    if (!cards.has(cardId) || broken) {
      for (const v of list) failed.set(v.record.id, broken ?? new Error('state unavailable'));
      cards.delete(cardId);
      continue;
    }
    stats.set(cardId, emptyStats());
    cardVectors.set(cardId, []);
    cardMerchants.set(cardId, new Set());
  }
  for (const v of valid) {
    const cardId = v.event.entity_id;
    const card = cards.get(cardId);
    if (!card) continue;
    const m = merchants.get(v.event.merchant_id)!;
    const r = ingestRecord(engine, card, v, m.state, stats.get(cardId)!, cardVectors.get(cardId)!);
    if (!r) {
      counts.redelivered++;
      continue;
    }
    if (r.status === 'accepted' || r.status === 'late') {
      cardMerchants.get(cardId)!.add(v.event.merchant_id);
      if (seqAfter(v.record.id, m.item?.seq?.[v.record.shardId])) {
        engine.applyMerchant(m.state, v.event.ts, r.newMerchant);
        m.deltas.push({ seq: v.record.id, shardId: v.record.shardId, ts: v.event.ts, newCard: r.newMerchant });
      }
    }
  }

  // 6. Merchants first.
  const failedMerchants = new Map<string, Error>();
  await Promise.all(
    [...merchants.entries()]
      .filter(([, m]) => m.deltas.length > 0)
      .map(async ([merchantId, m]) => {
        try {
          counts.conflicts += await writeMerchant(deps, m, maxAttempts);
          counts.entitiesWritten++;
        } catch (e) {
          failedMerchants.set(merchantId, asError(e));
        }
      }),
  );

  // 7. Then cards whose merchants all landed.
  await Promise.all(
    [...cards.entries()].map(async ([cardId, card]) => {
      const list = byCard.get(cardId)!;
      const merchantFailure = [...(cardMerchants.get(cardId) ?? [])].map((m) => failedMerchants.get(m)).find(Boolean);
      if (merchantFailure) {
        for (const v of list) failed.set(v.record.id, merchantFailure);
        return;
      }
      try {
        const { conflicts, stats: s, vectors: logged } = await writeCard(deps, cardId, card, list, merchants, stats.get(cardId)!, cardVectors.get(cardId)!, maxAttempts);
        vectors.push(...logged);
        counts.conflicts += conflicts;
        counts.entitiesWritten++;
        counts.applied += s.applied;
        counts.duplicates += s.duplicates;
        counts.late += s.late;
        counts.tooLate += s.too_late;
      } catch (e) {
        for (const v of list) failed.set(v.record.id, asError(e));
      }
    }),
  );
  if (deps.offline && vectors.length > 0) await logVectors(deps, vectors, valid);
  return { failed, vectors, counts };
}

/** Vectors per dead letter: a letter stays far below SQS's 256 KiB message limit. */
const VECTORS_PER_LETTER = 50;

/**
 * The vectors belong to card states already written, whose records a retry would skip: if the
 * offline log refuses them, they go to the dead-letter queue (as `feature_log` rows to replay)
 * rather than fail the batch — a retry could not log them again.
 */
async function logVectors(deps: FeatureBatchDeps, vectors: FeatureBatchResult['vectors'], valid: readonly ValidRecord[]): Promise<void> {
  try {
    await deps.offline!.logFeatures(vectors);
  } catch (e) {
    const reason = `feature_log delivery failed: ${asError(e).message}`;
    const shardOf = new Map(valid.map((v) => [v.event.event_id as string, v.record]));
    const letters: DeadLetter[] = [];
    for (let i = 0; i < vectors.length; i += VECTORS_PER_LETTER) {
      const chunk = vectors.slice(i, i + VECTORS_PER_LETTER);
      const record = shardOf.get(chunk[0]!.eventId) ?? valid[0]!.record;
      letters.push({ reason, field: 'feature_log', recordId: record.id, shardId: record.shardId, data: JSON.stringify(chunk) });
    }
    await deps.deadLetters.send(letters);
  }
}

/** Records, per shard, the highest sequence number whose letter was sent. */
async function checkpointDeadLetters(deps: FeatureBatchDeps, sent: readonly DeadLetter[], items: Map<string, StoredEntity>, maxAttempts: number): Promise<number> {
  let conflicts = 0;
  for (const shardId of new Set(sent.map((l) => l.shardId))) {
    const pk = entityKey('shard', shardId);
    const letters = sent.filter((l) => l.shardId === shardId).map((l) => ({ shardId, seq: l.recordId }));
    conflicts += await putVersioned(
      deps.store,
      pk,
      items.get(pk),
      (item) => {
        const seq = withHighestSeq(item?.seq, letters);
        // Another writer may already be past these letters.
        if (seq[shardId] === item?.seq?.[shardId]) return undefined;
        return { pk, kind: 'shard', state: '{}', seq, featureSet: deps.engine.version, features: {}, asOf: Date.now() };
      },
      maxAttempts,
    );
  }
  return conflicts;
}

async function writeMerchant(deps: FeatureBatchDeps, m: MerchantWork, maxAttempts: number): Promise<number> {
  const { engine } = deps;
  const deltas = m.deltas.map((d) => ({ shardId: d.shardId, seq: d.seq }));
  return putVersioned(
    deps.store,
    m.pk,
    m.item,
    (item, reloaded) => {
      if (reloaded) {
        // Someone else moved it: start from their version and re-apply what they have not absorbed.
        m.item = item;
        m.state = item ? deserializeMerchant(engine, item.state) : emptyMerchantState();
        for (const d of m.deltas) if (seqAfter(d.seq, item?.seq?.[d.shardId])) engine.applyMerchant(m.state, d.ts, d.newCard);
      }
      const values = engine.merchantFeatures(m.state, m.state.maxTs);
      const features = Object.fromEntries(engine.merchantFeatureNames.map((name, i) => [name, values[i] ?? 0]));
      return { pk: m.pk, kind: 'merchant', state: serializeMerchant(engine, m.state), seq: withHighestSeq(item?.seq, deltas), featureSet: engine.version, features, asOf: m.state.maxTs };
    },
    maxAttempts,
  );
}

interface CardWork {
  item: StoredEntity | undefined;
  state: CardState;
}

/** One record into its card: skipped if the card already absorbed it (a redelivery). */
function ingestRecord(engine: FeatureEngine, card: CardWork, v: ValidRecord, merchant: MerchantState | undefined, stats: CardStats, logged: FeatureBatchResult['vectors']): IngestResult | undefined {
  if (!seqAfter(v.record.id, card.item?.seq?.[v.record.shardId])) return undefined;
  const r = engine.ingest(card.state, v.event, merchant);
  countStatus(stats, r.status);
  for (const c of r.committed) logged.push({ ...c, entityId: v.event.entity_id });
  return r;
}

async function writeCard(
  deps: FeatureBatchDeps,
  cardId: string,
  card: CardWork,
  list: readonly ValidRecord[],
  merchants: Map<string, MerchantWork>,
  batchStats: CardStats,
  batchVectors: FeatureBatchResult['vectors'],
  maxAttempts: number,
): Promise<{ conflicts: number; stats: CardStats; vectors: FeatureBatchResult['vectors'] }> {
  const { engine } = deps;
  const pk = entityKey('card', cardId);
  const records = list.map((v) => ({ shardId: v.record.shardId, seq: v.record.id }));
  let s = batchStats;
  let logged = batchVectors;
  const conflicts = await putVersioned(
    deps.store,
    pk,
    card.item,
    (item, reloaded) => {
      if (reloaded) {
        // Re-run this batch's events on the newer state: dedupe by event id makes that idempotent.
        card.item = item;
        card.state = item ? deserializeCard(engine, item.state) : engine.newCardState();
        s = emptyStats();
        logged = [];
        for (const v of list) ingestRecord(engine, card, v, merchants.get(v.event.merchant_id)?.state, s, logged);
      }
      const prev = item?.stats ?? emptyStats();
      const stats: CardStats = {
        applied: prev.applied + s.applied,
        duplicates: prev.duplicates + s.duplicates,
        late: prev.late + s.late,
        too_late: prev.too_late + s.too_late,
      };
      return {
        pk, kind: 'card', state: serializeCard(engine, card.state), stats, seq: withHighestSeq(item?.seq, records),
        featureSet: engine.version, features: engine.currentFeatures(card.state), asOf: card.state.maxTs,
      };
    },
    maxAttempts,
  );
  return { conflicts, stats: s, vectors: logged };
}

function countStatus(s: CardStats, status: 'accepted' | 'late' | 'duplicate' | 'too_late'): void {
  if (status === 'accepted') s.applied++;
  else if (status === 'late') {
    s.applied++;
    s.late++;
  } else if (status === 'duplicate') s.duplicates++;
  else s.too_late++;
}

function parsePayload(data: string): { ok: true; value: TimedEvent } | { ok: false; error: ValidationError } {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, error: new ValidationError('record data is not valid JSON', '(record)') };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: new ValidationError('record data must be a JSON object', '(record)') };
  }
  return parseStreamEvent(json);
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new FathomError(String(e), 'unknown'));
