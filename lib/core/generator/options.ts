import { ConfigError } from '../errors';
import { COUNTRIES } from './reference-data';
import { FRAUD_PATTERNS, type FraudPattern } from './types';

export type FraudMix = Readonly<Record<FraudPattern, number>>;

export interface WorkloadOptions {
  /** Integer in [0, 2³²). Same seed and options → byte-identical output. */
  readonly seed: number;
  /** Exact number of events generated. */
  readonly events: number;
  /** Length of the workload in days (default 30). */
  readonly days?: number;
  /** First day, `YYYY-MM-DD` or an ISO timestamp at midnight UTC (default 2026-01-01). */
  readonly start?: string;
  /** Number of cards (default: about 1.5 events per card per day). */
  readonly cards?: number;
  /** Number of merchants (default: one per 20 cards; at least one per country). */
  readonly merchants?: number;
  /** Target share of fraudulent events, in [0, 0.5] (default 0.01). */
  readonly fraudRate?: number;
  /** Share of fraudulent events per pattern before drift; normalised, missing patterns get 0. */
  readonly fraudMix?: Partial<FraudMix>;
  /** Day index (0 = `start`) from which the drifted regime applies; absent = no drift. */
  readonly driftFromDay?: number;
  /** Share of fraudulent events per pattern in the drifted regime. */
  readonly driftFraudMix?: Partial<FraudMix>;
  /** Multiplier on every amount in the drifted regime (default 1.3: inflation-like). */
  readonly driftAmountFactor?: number;
}

export interface ResolvedWorkloadOptions {
  readonly seed: number;
  readonly events: number;
  readonly days: number;
  readonly start: string;
  readonly startMs: number;
  readonly cards: number;
  readonly merchants: number;
  readonly fraudRate: number;
  readonly fraudMix: FraudMix;
  readonly driftFromDay: number | undefined;
  readonly driftFraudMix: FraudMix;
  readonly driftAmountFactor: number;
}

export const DEFAULT_DAYS = 30;
export const DEFAULT_START = '2026-01-01';
export const DEFAULT_FRAUD_RATE = 0.01;
/** Card testing is the most common scheme by event count; takeovers are rarer but costlier. */
export const DEFAULT_FRAUD_MIX: FraudMix = { card_testing: 0.45, account_takeover: 0.3, compromised_merchant: 0.25 };
/** Drift as issuers see it when testing gets blocked upstream: fewer probes, more takeovers. */
export const DEFAULT_DRIFT_FRAUD_MIX: FraudMix = { card_testing: 0.15, account_takeover: 0.6, compromised_merchant: 0.25 };
export const DEFAULT_DRIFT_AMOUNT_FACTOR = 1.3;
/** A typical active card pays one to two times a day. */
const EVENTS_PER_CARD_DAY = 1.5;
const CARDS_PER_MERCHANT = 20;
const MAX_EVENTS = 1e9;
const DAY_MS = 86_400_000;

function integer(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${field} must be an integer from ${min} to ${max} (got ${value})`, field);
  }
  return value;
}

function fraction(field: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${field} must be a number from ${min} to ${max} (got ${value})`, field);
  }
  return value;
}

function parseStart(value: string): number {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(dateOnly ? `${value}T00:00:00.000Z` : value);
  if (!Number.isFinite(ms) || (!dateOnly && !/Z$/.test(value))) {
    throw new ConfigError(`start must be YYYY-MM-DD or an ISO 8601 UTC timestamp (got ${value})`, 'start');
  }
  // Days are UTC calendar days: the weekly rhythm and the drift boundary are counted in them.
  if (ms % DAY_MS !== 0) throw new ConfigError(`start must be midnight UTC (got ${value})`, 'start');
  return ms;
}

function resolveMix(field: string, mix: Partial<FraudMix> | undefined, fallback: FraudMix): FraudMix {
  if (mix === undefined) return fallback;
  const out: Record<FraudPattern, number> = { card_testing: 0, account_takeover: 0, compromised_merchant: 0 };
  let total = 0;
  for (const key of Object.keys(mix)) {
    if (!(FRAUD_PATTERNS as readonly string[]).includes(key)) {
      throw new ConfigError(`${field}.${key} is not a fraud pattern (${FRAUD_PATTERNS.join(', ')})`, `${field}.${key}`);
    }
  }
  for (const pattern of FRAUD_PATTERNS) {
    const weight = mix[pattern] ?? 0;
    if (!Number.isFinite(weight) || weight < 0) {
      throw new ConfigError(`${field}.${pattern} must be a non-negative number (got ${weight})`, `${field}.${pattern}`);
    }
    out[pattern] = weight;
    total += weight;
  }
  if (total <= 0) throw new ConfigError(`${field} needs at least one positive weight`, field);
  for (const pattern of FRAUD_PATTERNS) out[pattern] /= total;
  return out;
}

/** Fills defaults and checks ranges; throws ConfigError naming the option at fault. */
export function resolveWorkloadOptions(options: WorkloadOptions): ResolvedWorkloadOptions {
  const seed = integer('seed', options.seed, 0, 0xffffffff);
  const events = integer('events', options.events, 0, MAX_EVENTS);
  const days = integer('days', options.days ?? DEFAULT_DAYS, 1, 3660);
  const start = options.start ?? DEFAULT_START;
  const startMs = parseStart(start);
  const cards = integer('cards', options.cards ?? Math.max(20, Math.round(events / (days * EVENTS_PER_CARD_DAY))), 1, 10_000_000);
  const merchants = integer(
    'merchants',
    options.merchants ?? Math.max(2 * COUNTRIES.length, Math.round(cards / CARDS_PER_MERCHANT)),
    COUNTRIES.length,
    1_000_000,
  );
  const fraudRate = fraction('fraudRate', options.fraudRate ?? DEFAULT_FRAUD_RATE, 0, 0.5);
  const driftFromDay = options.driftFromDay === undefined ? undefined : integer('driftFromDay', options.driftFromDay, 0, days - 1);
  return {
    seed,
    events,
    days,
    start: new Date(startMs).toISOString(),
    startMs,
    cards,
    merchants,
    fraudRate,
    fraudMix: resolveMix('fraudMix', options.fraudMix, DEFAULT_FRAUD_MIX),
    driftFromDay,
    driftFraudMix: resolveMix('driftFraudMix', options.driftFraudMix, DEFAULT_DRIFT_FRAUD_MIX),
    driftAmountFactor: fraction('driftAmountFactor', options.driftAmountFactor ?? DEFAULT_DRIFT_AMOUNT_FACTOR, 0.01, 100),
  };
}
