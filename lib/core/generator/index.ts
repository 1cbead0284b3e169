// The seeded workload generator for the reference workload (card-transaction fraud).
export { generateWorkload } from './workload';
export {
  resolveWorkloadOptions,
  DEFAULT_DAYS,
  DEFAULT_DRIFT_AMOUNT_FACTOR,
  DEFAULT_DRIFT_FRAUD_MIX,
  DEFAULT_FRAUD_MIX,
  DEFAULT_FRAUD_RATE,
  DEFAULT_START,
  type FraudMix,
  type ResolvedWorkloadOptions,
  type WorkloadOptions,
} from './options';
export { FRAUD_PATTERNS, toLabelRecord, type FraudPattern, type GeneratedEvent, type LabelRecord } from './types';
export { LEGIT_MATURITY_DAYS } from './labels';
export { COUNTRIES, COUNTRY_BY_CODE, CATEGORIES, type Country, type MerchantCategory } from './reference-data';
export { toUsd } from './money';
export { Rng, deriveSeed } from './prng';
