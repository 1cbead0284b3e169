import type { Channel, Event } from '../schemas/event';
import type { EventId } from '../ids';

export const FRAUD_PATTERNS = ['card_testing', 'account_takeover', 'compromised_merchant'] as const;
export type FraudPattern = (typeof FRAUD_PATTERNS)[number];

/** One generated event with its ground truth, and when that truth becomes known. */
export interface GeneratedEvent {
  readonly event: Event;
  readonly label: 0 | 1;
  /** Which fraud scheme produced the event; null for a legitimate one. */
  readonly fraud_pattern: FraudPattern | null;
  /** ISO 8601 UTC time at which the label may be used (see labels.ts for the delays). */
  readonly label_available_at: string;
}

/** A label as the platform receives it (the row written to labels.jsonl / labels.parquet). */
export interface LabelRecord {
  readonly event_id: EventId;
  readonly label: 0 | 1;
  readonly labeled_at: string;
}

export function toLabelRecord(item: GeneratedEvent): LabelRecord {
  return { event_id: item.event.event_id, label: item.label, labeled_at: item.label_available_at };
}

/** An event before it is sorted into place and given its id. Indices point into the world. */
export interface DraftEvent {
  readonly ts: number;
  readonly card: number;
  readonly merchant: number;
  /** In the merchant's currency, already rounded to its minor unit. */
  readonly amount: number;
  readonly channel: Channel;
  readonly pattern: FraudPattern | null;
  readonly labelAt: number;
}
