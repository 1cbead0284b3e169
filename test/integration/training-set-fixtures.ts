// Offline-store contents for the training-set and backfill tests (and the offline benchmark):
// events from the reference generator, their feature vectors from the engine (the batch driver,
// or the stream's incremental driver in arrival order), and labels as they become known.
import { FeatureEngine, IncrementalDriver, referenceFeatureSet, runBatch, type EntityVector } from '../../lib/core/features';
import type { GeneratedEvent } from '../../lib/core/generator';
import type { EventsRow, FeatureLogRow, LabelsRow } from '../../lib/core/offline/tables';
import type { TimedEvent } from '../../lib/core/schemas/event';

export const FEATURE_SET = 'card_fraud.v1';

export const timedOf = (g: readonly GeneratedEvent[]): TimedEvent[] => g.map((x) => ({ ...x.event, ts: Date.parse(x.event.event_time) }));

export function eventsRowsOf(g: readonly GeneratedEvent[]): EventsRow[] {
  return g.map(({ event: e }) => ({ ...e, received_at: e.event_time, raw: JSON.stringify(e) }));
}

/** A vector as the stream logs it (lib/adapters/offline-log.ts). */
export function featureLogRowOf(v: EntityVector, loggedAt: string, featureSet = FEATURE_SET): FeatureLogRow {
  return {
    event_id: v.eventId,
    entity_id: v.entityId,
    event_time: new Date(v.ts).toISOString(),
    feature_set: featureSet,
    features: v.values.map((x) => (Number.isNaN(x) ? null : x)),
    late: v.late,
    logged_at: loggedAt,
  };
}

/** feature_log rows from the batch driver (the reference semantics). */
export function batchFeatureLog(g: readonly GeneratedEvent[], loggedAt: string, engine = new FeatureEngine(referenceFeatureSet)): FeatureLogRow[] {
  return runBatch(engine, timedOf(g)).vectors.map((v) => featureLogRowOf(v, loggedAt));
}

/**
 * feature_log rows as the stream computes them: the incremental driver fed in arrival order, where
 * each event arrives up to `maxDelayMs` after its event time (within the allowed lateness, so the
 * vectors equal the batch driver's), then flushed as a drained stream is.
 */
export function streamedFeatureLog(g: readonly GeneratedEvent[], loggedAt: string, maxDelayMs: number, seed = 1): FeatureLogRow[] {
  let s = seed >>> 0;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const arrivals = timedOf(g)
    .map((e) => ({ e, at: e.ts + Math.floor(random() * maxDelayMs) }))
    .sort((a, b) => a.at - b.at);
  const driver = new IncrementalDriver(new FeatureEngine(referenceFeatureSet));
  for (const { e } of arrivals) driver.ingest(e);
  driver.flush();
  return driver.vectors.map((v) => featureLogRowOf(v, loggedAt));
}

/** Labels as the generator says they become known. */
export const labelRowsOf = (g: readonly GeneratedEvent[]): LabelsRow[] => g.map((x) => ({ event_id: x.event.event_id, label: x.label, labeled_at: x.label_available_at }));

/** Splits rows into chunks of `size` (one append each: several commits, several files). */
export function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
