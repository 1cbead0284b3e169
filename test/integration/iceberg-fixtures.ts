// Rows for the Iceberg tests: deterministic, spread over a few days (so over partitions), with
// millisecond timestamps unless asked for microseconds (icebird reads timestamps as Date).
import type { EventsRow, FeatureLogRow, LabelsRow, PredictionsRow } from '../../lib/core/offline/tables';

const DAY_MS = 86_400_000;
const START = Date.UTC(2024, 4, 1);

const iso = (ms: number, micros = 0): string => {
  const text = new Date(ms).toISOString();
  return micros === 0 ? text : `${text.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
};

/** Event time of row i: spread over `days` days, a few seconds apart. */
const eventMs = (i: number, days: number): number => START + (i % days) * DAY_MS + 37_000 * i + (i % 1000);

export function eventRows(prefix: string, from: number, count: number, options: { days?: number; micros?: boolean } = {}): EventsRow[] {
  const days = options.days ?? 3;
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const ms = eventMs(i, days);
    const body = { event_id: `${prefix}-${i}`, entity_id: `card-${i % 17}`, merchant_id: `m-${i % 5}`, amount: Math.round(i * 137.31) / 100, currency: 'USD', mcc: 5411 + (i % 3), country: 'US', channel: 'ecom', event_time: iso(ms) };
    return {
      ...body,
      received_at: iso(ms + 250, options.micros ? (i % 999) + 1 : 0),
      raw: JSON.stringify({ ...body, device: `d-${i % 4}` }),
    };
  });
}

export function featureLogRows(prefix: string, from: number, count: number): FeatureLogRow[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const ms = eventMs(i, 2);
    return {
      event_id: `${prefix}-${i}`,
      entity_id: `card-${i % 17}`,
      event_time: iso(ms),
      feature_set: 'card_fraud.v1',
      features: [i / 7, i % 3 === 0 ? null : i * 0.5, -i, 1e-9 * i],
      late: i % 11 === 0,
      logged_at: iso(ms + 5),
    };
  });
}

export function predictionRows(prefix: string, from: number, count: number): PredictionsRow[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const ms = eventMs(i, 2);
    return {
      request_id: `req-${prefix}-${i}`,
      event_id: `${prefix}-${i}`,
      entity_id: `card-${i % 17}`,
      model_name: 'card_fraud',
      model_version: `${1 + (i % 2)}`,
      score: (i % 100) / 100,
      decision: i % 100 >= 90 ? 'flagged' : 'pass',
      feature_set: 'card_fraud.v1',
      features: [i, i % 2 === 0 ? null : 2.5],
      event_time: iso(ms),
      scored_at: iso(ms + 3),
    };
  });
}

export function labelRows(prefix: string, from: number, count: number): LabelsRow[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { event_id: `${prefix}-${i}`, label: i % 9 === 0 ? 1 : 0, labeled_at: iso(eventMs(i, 2) + 3 * DAY_MS) };
  });
}

/** Sorted by a key, so row sets compare regardless of file order. */
export const sortBy = <T>(rows: readonly T[], key: (row: T) => string): T[] => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
