// What a point-in-time training set is built from: an event-time range, the label cutoff, the
// feature set and the split shares. Instants are kept as epoch microseconds (the resolution of
// Iceberg's timestamptz) and written back in one canonical ISO form, so two requests that mean the
// same instant produce the same manifest bytes.
import { ConfigError } from '../errors';
import { formatTimestampMicros, parseTimestampMicros } from '../iceberg/timestamps';
import { FEATURE_SET_PATTERN } from '../registry/package-checks';
import { DEFAULT_HOLDOUT_FRACTION, DEFAULT_VALIDATION_FRACTION } from '../training/time-split';

const DATE_ONLY = /^(\d{4}-\d{2}-\d{2})$/;

/** An instant given as `YYYY-MM-DD` (midnight UTC) or an ISO 8601 UTC timestamp. */
export interface Instant {
  readonly micros: bigint;
  /** Canonical ISO 8601 UTC (milliseconds, or microseconds when there are any). */
  readonly iso: string;
}

/** Parses a date or UTC timestamp; ConfigError naming `field` otherwise. */
export function parseInstant(field: string, text: string): Instant {
  const trimmed = text.trim();
  const m = DATE_ONLY.exec(trimmed);
  const micros = parseTimestampMicros(m ? `${m[1]}T00:00:00Z` : trimmed);
  if (micros === undefined) {
    throw new ConfigError(`${field} must be a date (2026-01-31) or an ISO 8601 UTC timestamp (2026-01-31T12:00:00Z); got "${text}"`, field);
  }
  return { micros, iso: formatTimestampMicros(micros) };
}

export interface TrainingSetParamsInput {
  /** First event time included (date or UTC timestamp). */
  readonly from: string;
  /** First event time excluded. */
  readonly to: string;
  /** Labels with labeled_at ≤ cutoff are known; later ones do not exist for this set. */
  readonly cutoff: string;
  /** `<name>.v<N>`; absent: the one feature set the range holds (several are refused). */
  readonly featureSet?: string;
  /** Share of the rows, just before the holdout, for early stopping (default 0.15). */
  readonly validation?: number;
  /** Share of the latest rows for the final evaluation (default 0.15). */
  readonly holdout?: number;
}

export interface TrainingSetParams {
  readonly from: Instant;
  readonly to: Instant;
  readonly cutoff: Instant;
  readonly featureSet: string | undefined;
  readonly validation: number;
  readonly holdout: number;
}

function fraction(field: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || v >= 1) throw new ConfigError(`${field} must be a number in [0, 1) (got ${v})`, field);
  return v;
}

/** Checks and normalises the parameters; every error names its field. */
export function parseTrainingSetParams(input: TrainingSetParamsInput): TrainingSetParams {
  const from = parseInstant('from', input.from);
  const to = parseInstant('to', input.to);
  const cutoff = parseInstant('cutoff', input.cutoff);
  if (from.micros >= to.micros) throw new ConfigError(`to (${to.iso}) must be after from (${from.iso})`, 'to');
  if (input.featureSet !== undefined && !FEATURE_SET_PATTERN.test(input.featureSet)) {
    throw new ConfigError(`featureSet must look like <name>.v<N>, e.g. card_fraud.v1 (got "${input.featureSet}")`, 'featureSet');
  }
  const validation = fraction('validation', input.validation, DEFAULT_VALIDATION_FRACTION);
  const holdout = fraction('holdout', input.holdout, DEFAULT_HOLDOUT_FRACTION);
  if (validation + holdout >= 1) throw new ConfigError(`validation + holdout must be below 1 (got ${validation + holdout})`, 'holdout');
  return { from, to, cutoff, featureSet: input.featureSet, validation, holdout };
}
