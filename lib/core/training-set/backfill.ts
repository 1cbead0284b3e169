// What a feature backfill must replay to recompute feature_log for [from, to) exactly as the
// stream computed it, and the rows it writes. Pure: the adapter (lib/adapters/backfill.ts) reads
// the events, runs the batch driver and appends.
//
// How far back: f(S, e) depends on the card's events up to the longest window (30 days) before e,
// and the merchant features on other cards' events shortly before e, whose own new-merchant flags
// depend on their cards' look-back in turn. So every event from two longest spans (plus two days
// of margin for tiles and lateness) before `from` is replayed. Two reference features depend on
// the card's whole history, not a window: card_foreign_country (the card's most frequent country
// ever) and card_seconds_since_prev (the gap to the previous event, however old). With
// history = 'full' (the default) the cards that have events in range are replayed from their
// first event, which is exact; 'window' reads only the windows, which is cheaper and can differ
// on those two features for cards older than the replay.
import { DAY_MS } from '../features/definitions';
import type { EntityVector } from '../features/drivers';
import type { FeatureLogRow } from '../offline/tables';

export type BackfillHistory = 'full' | 'window';

export interface BackfillPlan {
  readonly fromMs: number;
  readonly toMs: number;
  /** Every event at or after this (and before `toMs`) is replayed. */
  readonly windowStartMs: number;
  /** Whether the cards active in range are also replayed from their first event. */
  readonly fullCardHistory: boolean;
}

/** The replay for a range, given the engine's longest span (FeatureEngine.longestSpanMs). */
export function planBackfill(fromMs: number, toMs: number, longestSpanMs: number, history: BackfillHistory = 'full'): BackfillPlan {
  const start = fromMs - 2 * longestSpanMs - 2 * DAY_MS;
  return { fromMs, toMs, windowStartMs: Math.floor(start / DAY_MS) * DAY_MS, fullCardHistory: history === 'full' };
}

/**
 * The feature_log rows of the vectors in range, as the stream logs them (event time as
 * Date.toISOString of the event's millisecond time, the same feature-set id, never late: the batch
 * driver replays in order).
 */
export function featureLogRowsOf(vectors: Iterable<EntityVector>, plan: BackfillPlan, featureSet: string, loggedAt: string): FeatureLogRow[] {
  const rows: FeatureLogRow[] = [];
  for (const v of vectors) {
    if (v.ts < plan.fromMs || v.ts >= plan.toMs) continue;
    rows.push({
      event_id: v.eventId,
      entity_id: v.entityId,
      event_time: new Date(v.ts).toISOString(),
      feature_set: featureSet,
      // NaN (missing) is stored as null, as the table's schema does for the stream's rows.
      features: v.values.map((x) => (Number.isNaN(x) ? null : x)),
      late: false,
      logged_at: loggedAt,
    });
  }
  return rows;
}
