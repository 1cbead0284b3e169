// The offline store's four Iceberg tables (DESIGN.md, Shared contracts). Column order is field-id
// order and is frozen: test/unit/iceberg/tables.test.ts pins every id, because a table on disk (or
// in Glue) resolves its Parquet columns by those ids forever. Add columns at the end only.
import { z } from 'zod';
import { FEATURE_SET_PATTERN } from '../registry/package-checks';
import { ISO_UTC_PATTERN, parseTimestampMicros } from '../iceberg/timestamps';
import { defineTable, type RowOf } from '../iceberg/table-definition';

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

const text = (what: string) => z.string({ error: `${what} must be a string` }).min(1, `${what} must not be empty`);
const timestamp = (what: string) =>
  z
    .string({ error: `${what} must be an ISO 8601 UTC timestamp string` })
    .regex(ISO_UTC_PATTERN, `${what} must be an ISO 8601 UTC timestamp such as 2026-01-31T12:00:00Z`)
    .refine((s) => parseTimestampMicros(s) !== undefined, `${what} is not a real date`);
const double = (what: string) => z.number({ error: `${what} must be a finite number` });
const int32 = (what: string) => z.number({ error: `${what} must be an integer` }).int(`${what} must be an integer`).min(INT32_MIN).max(INT32_MAX);
const featureSet = z.string({ error: 'feature_set must be a string' }).regex(FEATURE_SET_PATTERN, 'feature_set must look like <name>.v<N>, e.g. card_fraud.v1');
/** NaN is the engine's missing marker; JSON cannot carry it, so the table stores null for both. */
const features = z.array(
  z.preprocess((v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), z.number({ error: 'features must hold numbers or null' }).nullable()),
  { error: 'features must be an array of numbers' },
);

export const EVENTS_TABLE = defineTable({
  name: 'events',
  doc: 'Every event as the stream received it; unknown fields survive in raw.',
  row: z.strictObject({
    event_id: text('event_id'),
    entity_id: text('entity_id'),
    merchant_id: text('merchant_id'),
    amount: double('amount'),
    currency: text('currency'),
    mcc: int32('mcc'),
    country: text('country'),
    channel: text('channel'),
    event_time: timestamp('event_time'),
    received_at: timestamp('received_at'),
    raw: z.string({ error: 'raw must be a string (the record as received, JSON)' }),
  }),
  columns: {
    event_id: { type: 'string', doc: 'Event id (unique per event).' },
    entity_id: { type: 'string', doc: 'Card id: the entity whose state the event updates.' },
    merchant_id: { type: 'string', doc: 'Merchant id.' },
    amount: { type: 'double', doc: 'Amount in the currency, minor units rounded.' },
    currency: { type: 'string', doc: 'ISO 4217 code.' },
    mcc: { type: 'int', doc: 'Merchant category code.' },
    country: { type: 'string', doc: 'ISO 3166-1 alpha-2 code.' },
    channel: { type: 'string', doc: 'pos, ecom, atm or moto.' },
    event_time: { type: 'timestamptz', doc: 'When the event happened (partition source).' },
    received_at: { type: 'timestamptz', doc: 'When the platform received it.' },
    raw: { type: 'string', doc: 'The record as received (JSON), unknown fields included.' },
  },
  partitionBy: { column: 'event_time', transform: 'day' },
});

export const FEATURE_LOG_TABLE = defineTable({
  name: 'feature_log',
  doc: 'The feature vector f(S, e) the stream computed for every event: training rows are what serving saw.',
  row: z.strictObject({
    event_id: text('event_id'),
    entity_id: text('entity_id'),
    event_time: timestamp('event_time'),
    feature_set: featureSet,
    features,
    late: z.boolean({ error: 'late must be a boolean' }),
    logged_at: timestamp('logged_at'),
  }),
  columns: {
    event_id: { type: 'string', doc: 'Event the vector was computed for.' },
    entity_id: { type: 'string', doc: 'Card id.' },
    event_time: { type: 'timestamptz', doc: 'Event time (partition source).' },
    feature_set: { type: 'string', doc: 'Feature set and version, e.g. card_fraud.v1; it names the order of features.' },
    features: { type: 'list<double>', doc: "Feature values in the feature set's order; null is a missing value." },
    late: { type: 'boolean', doc: 'The event arrived after the allowed lateness and did not update the state.' },
    logged_at: { type: 'timestamptz', doc: 'When the stream logged the vector.' },
  },
  partitionBy: { column: 'event_time', transform: 'day' },
});

export const PREDICTIONS_TABLE = defineTable({
  name: 'predictions',
  doc: 'Every score the platform returned, with the exact features the model saw.',
  row: z.strictObject({
    request_id: text('request_id'),
    event_id: text('event_id'),
    entity_id: text('entity_id'),
    model_name: text('model_name'),
    model_version: text('model_version'),
    score: double('score'),
    decision: text('decision'),
    feature_set: featureSet,
    features,
    event_time: timestamp('event_time'),
    scored_at: timestamp('scored_at'),
  }),
  columns: {
    request_id: { type: 'string', doc: 'Score request id.' },
    event_id: { type: 'string', doc: 'Event scored.' },
    entity_id: { type: 'string', doc: 'Card id.' },
    model_name: { type: 'string', doc: 'Model that scored.' },
    model_version: { type: 'string', doc: 'Its version.' },
    score: { type: 'double', doc: 'P(positive) as the model computed it.' },
    decision: { type: 'string', doc: 'The decision returned (score against the threshold).' },
    feature_set: { type: 'string', doc: 'Feature set and version of features.' },
    features: { type: 'list<double>', doc: "Feature values in the feature set's order; null is a missing value." },
    event_time: { type: 'timestamptz', doc: 'Event time (partition source).' },
    scored_at: { type: 'timestamptz', doc: 'When the score was computed.' },
  },
  partitionBy: { column: 'event_time', transform: 'day' },
});

export const LABELS_TABLE = defineTable({
  name: 'labels',
  doc: 'Ground truth as it arrives; labeled_at is when it became known (training sets cut on it).',
  row: z.strictObject({
    event_id: text('event_id'),
    label: z.union([z.literal(0), z.literal(1)], { error: 'label must be 0 or 1' }),
    labeled_at: timestamp('labeled_at'),
  }),
  columns: {
    event_id: { type: 'string', doc: 'Event the label is for.' },
    label: { type: 'int', doc: '1: fraud, 0: legitimate.' },
    labeled_at: { type: 'timestamptz', doc: 'When the label became known (partition source: labels have no event time).' },
  },
  partitionBy: { column: 'labeled_at', transform: 'day' },
});

export type EventsRow = RowOf<typeof EVENTS_TABLE>;
export type FeatureLogRow = RowOf<typeof FEATURE_LOG_TABLE>;
export type PredictionsRow = RowOf<typeof PREDICTIONS_TABLE>;
export type LabelsRow = RowOf<typeof LABELS_TABLE>;

export const OFFLINE_TABLES = {
  events: EVENTS_TABLE,
  feature_log: FEATURE_LOG_TABLE,
  predictions: PREDICTIONS_TABLE,
  labels: LABELS_TABLE,
} as const;

export type OfflineTableName = keyof typeof OFFLINE_TABLES;
