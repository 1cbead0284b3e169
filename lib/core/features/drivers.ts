// The engine's two drivers over in-memory states. The stream handler uses the engine's ingest
// directly against states read from the online store; these drivers hold every entity in memory
// for replays, backfills, training sets, tests and benchmarks.
import type { TimedEvent } from '../schemas/event';
import type { FeatureEngine, IngestStatus, LoggedVector } from './engine';
import { emptyMerchantState, type CardState, type MerchantState } from './state';

export interface EntityVector extends LoggedVector {
  readonly entityId: string;
}

/** Receives each logged vector; the default collects them into `vectors`. */
export type VectorSink = (v: EntityVector) => void;

export interface DriverResult {
  /** The logged vectors, in log order; empty when a sink was given. */
  readonly vectors: EntityVector[];
  readonly cards: Map<string, CardState>;
  readonly merchants: Map<string, MerchantState>;
  readonly counts: Record<IngestStatus, number>;
}

const byEventKey = (a: TimedEvent, b: TimedEvent) => a.ts - b.ts || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0);

/**
 * Batch driver: the reference semantics. Sorts the history by (event time, id) and, for each
 * event, logs f(S, e) and then applies e — no buffer, no watermark.
 */
export function runBatch(engine: FeatureEngine, events: Iterable<TimedEvent>, sink?: VectorSink): DriverResult {
  const sorted = [...events].sort(byEventKey);
  const cards = new Map<string, CardState>();
  const merchants = new Map<string, MerchantState>();
  const vectors: EntityVector[] = [];
  const emit = sink ?? ((v: EntityVector) => void vectors.push(v));
  const counts: Record<IngestStatus, number> = { accepted: 0, late: 0, duplicate: 0, too_late: 0 };
  for (const e of sorted) {
    let card = cards.get(e.entity_id);
    if (!card) cards.set(e.entity_id, (card = engine.newCardState()));
    if (card.seen.has(e.event_id)) {
      counts.duplicate++;
      continue;
    }
    let merchant = merchants.get(e.merchant_id);
    if (!merchant) merchants.set(e.merchant_id, (merchant = emptyMerchantState()));
    const flag = engine.newMerchantFlag(card, e.merchant_id, e.ts);
    const pe = engine.prepare(e, flag, engine.merchantFeatures(merchant, e.ts));
    emit({ entityId: e.entity_id, eventId: e.event_id, ts: e.ts, values: engine.vector(card.agg, pe), late: false });
    engine.apply(card.agg, pe);
    engine.applyMerchant(merchant, e.ts, flag);
    card.seen.set(e.event_id, e.ts);
    card.maxTs = e.ts;
    counts.accepted++;
    // Same canonical pruning the stream does, so memory stays bounded over long histories.
    if (card.seen.size % 256 === 0) {
      engine.pruneIds(card);
      engine.pruneAggregate(card.agg);
    }
  }
  return { vectors, cards, merchants, counts };
}

/** Incremental driver: events in arrival order through the stream's ingest step. */
export class IncrementalDriver {
  readonly cards = new Map<string, CardState>();
  readonly merchants = new Map<string, MerchantState>();
  readonly vectors: EntityVector[] = [];
  readonly counts: Record<IngestStatus, number> = { accepted: 0, late: 0, duplicate: 0, too_late: 0 };
  private readonly emit: VectorSink;

  constructor(
    private readonly engine: FeatureEngine,
    sink?: VectorSink,
  ) {
    this.emit = sink ?? ((v) => void this.vectors.push(v));
  }

  ingest(e: TimedEvent): IngestStatus {
    let card = this.cards.get(e.entity_id);
    if (!card) this.cards.set(e.entity_id, (card = this.engine.newCardState()));
    let merchant = this.merchants.get(e.merchant_id);
    if (!merchant) this.merchants.set(e.merchant_id, (merchant = emptyMerchantState()));
    const r = this.engine.ingest(card, e, merchant);
    this.counts[r.status]++;
    if (r.status === 'accepted' || r.status === 'late') this.engine.applyMerchant(merchant, e.ts, r.newMerchant);
    for (const v of r.committed) this.emit({ ...v, entityId: e.entity_id });
    return r.status;
  }

  /** Commits every buffered event, as a drained stream does. */
  flush(): void {
    for (const [entityId, card] of this.cards) for (const v of this.engine.flush(card)) this.emit({ ...v, entityId });
  }
}
