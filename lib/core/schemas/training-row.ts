// A training row as files carry it: `event_id`, `event_time`, `label`, then one numeric column
// per feature, in the model's input order. The same shape comes from `fathom generate
// --training-rows` today and from the point-in-time training-set builder once the offline store
// lands, so `fathom train` reads either.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { toValidationError } from './event';

/** Columns that are not features. */
export const TRAINING_ROW_KEYS = ['event_id', 'event_time', 'label'] as const;

const RowHead = z.object({
  event_id: z.string().min(1, 'event_id must not be empty'),
  event_time: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, 'must be an ISO 8601 UTC timestamp')
    .refine((s) => Number.isFinite(Date.parse(s)), 'is not a real date'),
  label: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }),
});

export interface ParsedTrainingRow {
  readonly eventId: string;
  readonly ts: number;
  readonly label: 0 | 1;
}

/**
 * Validates one row's fixed fields and copies its feature values into `out` (NaN for null, the
 * missing marker). `where` prefixes the field in errors, e.g. `rows.jsonl row 17`.
 */
export function parseTrainingRow(input: unknown, features: readonly string[], out: Float32Array, offset: number, where: string): ParsedTrainingRow {
  const head = RowHead.safeParse(input);
  if (!head.success) throw toValidationError(head.error, where);
  const row = input as Record<string, unknown>;
  for (let j = 0; j < features.length; j++) {
    const name = features[j]!;
    const v = row[name];
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
      // null in JSON, NaN in a Parquet DOUBLE: both are the missing marker.
      if (!Object.hasOwn(row, name)) throw new ValidationError(`${where}.${name}: feature column is missing`, `${where}.${name}`);
      out[offset + j] = Number.NaN;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ValidationError(`${where}.${name}: must be finite (got ${v})`, `${where}.${name}`);
      out[offset + j] = v;
    } else {
      throw new ValidationError(`${where}.${name}: must be a number or null (got ${JSON.stringify(v)})`, `${where}.${name}`);
    }
  }
  return { eventId: head.data.event_id, ts: Date.parse(head.data.event_time), label: head.data.label };
}

/** The feature columns of a row, in order: every key but the fixed ones. */
export const featureColumnsOf = (row: Record<string, unknown>): string[] =>
  Object.keys(row).filter((k) => !(TRAINING_ROW_KEYS as readonly string[]).includes(k));
