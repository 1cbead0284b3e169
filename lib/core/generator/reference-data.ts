// The synthetic world's fixed facts: countries and merchant categories. Values are plausible
// round numbers, not live data; changing one changes every generated workload, so they are
// constants here rather than options.

import type { Channel } from '../schemas/event';
import { usdPerUnit, utcOffsetHours } from '../features/reference-data';

export interface Country {
  readonly code: string;
  readonly currency: string;
  /** Standard-time offset from UTC. Daylight saving is ignored: a one-hour wobble in a rhythm. */
  readonly utcOffsetMinutes: number;
  /** Fixed exchange rate: local currency units per US dollar. */
  readonly unitsPerUsd: number;
  /** Digits after the decimal point in the currency (ISO 4217 minor unit). */
  readonly minorDigits: 0 | 2;
  /** Share of cardholders and of merchants. */
  readonly weight: number;
}

type CountryFacts = Omit<Country, 'utcOffsetMinutes' | 'unitsPerUsd'>;

// Exchange rates and UTC offsets come from the feature set's reference data, so the world the
// generator simulates and the features computed on it agree on what an amount and an hour mean.
const withReferenceData = (c: CountryFacts): Country => ({
  ...c,
  utcOffsetMinutes: Math.round(utcOffsetHours(c.code) * 60),
  unitsPerUsd: 1 / usdPerUnit(c.currency),
});

export const COUNTRIES: readonly Country[] = ([
  { code: 'US', currency: 'USD', minorDigits: 2, weight: 34 },
  { code: 'CA', currency: 'CAD', minorDigits: 2, weight: 5 },
  { code: 'MX', currency: 'MXN', minorDigits: 2, weight: 4 },
  { code: 'BR', currency: 'BRL', minorDigits: 2, weight: 5 },
  { code: 'GB', currency: 'GBP', minorDigits: 2, weight: 10 },
  { code: 'DE', currency: 'EUR', minorDigits: 2, weight: 8 },
  { code: 'FR', currency: 'EUR', minorDigits: 2, weight: 7 },
  { code: 'ES', currency: 'EUR', minorDigits: 2, weight: 4 },
  { code: 'IT', currency: 'EUR', minorDigits: 2, weight: 4 },
  { code: 'NL', currency: 'EUR', minorDigits: 2, weight: 3 },
  { code: 'IN', currency: 'INR', minorDigits: 2, weight: 6 },
  { code: 'SG', currency: 'SGD', minorDigits: 2, weight: 2 },
  { code: 'JP', currency: 'JPY', minorDigits: 0, weight: 5 },
  { code: 'AU', currency: 'AUD', minorDigits: 2, weight: 3 },
] satisfies CountryFacts[]).map(withReferenceData);

export interface MerchantCategory {
  readonly mcc: number;
  readonly name: string;
  /** Share of merchants in this category. */
  readonly weight: number;
  /** Typical ticket relative to the cardholder's own typical ticket. */
  readonly amountFactor: number;
  /** How this category's payments arrive: [channel, weight] pairs. */
  readonly channels: readonly (readonly [Channel, number])[];
  /** Where account-takeover fraudsters cash out: goods that resell, or cash. */
  readonly highValue: boolean;
}

export const ATM_MCC = 6011;

export const CATEGORIES: readonly MerchantCategory[] = [
  { mcc: 5411, name: 'grocery', weight: 16, amountFactor: 1.1, channels: [['pos', 0.92], ['ecom', 0.08]], highValue: false },
  { mcc: 5812, name: 'restaurants', weight: 14, amountFactor: 0.9, channels: [['pos', 0.95], ['ecom', 0.05]], highValue: false },
  { mcc: 5814, name: 'fast food', weight: 10, amountFactor: 0.3, channels: [['pos', 0.85], ['ecom', 0.15]], highValue: false },
  { mcc: 5541, name: 'fuel', weight: 7, amountFactor: 1.2, channels: [['pos', 1]], highValue: false },
  { mcc: 5311, name: 'department stores', weight: 5, amountFactor: 1.8, channels: [['pos', 0.7], ['ecom', 0.3]], highValue: true },
  { mcc: 5691, name: 'clothing', weight: 6, amountFactor: 1.7, channels: [['pos', 0.6], ['ecom', 0.4]], highValue: false },
  { mcc: 5732, name: 'electronics', weight: 4, amountFactor: 4, channels: [['pos', 0.45], ['ecom', 0.55]], highValue: true },
  { mcc: 5944, name: 'jewelry', weight: 1.5, amountFactor: 6, channels: [['pos', 0.8], ['ecom', 0.2]], highValue: true },
  { mcc: 5999, name: 'misc retail', weight: 8, amountFactor: 1.2, channels: [['pos', 0.5], ['ecom', 0.5]], highValue: false },
  { mcc: 5815, name: 'digital goods', weight: 5, amountFactor: 0.25, channels: [['ecom', 1]], highValue: false },
  { mcc: 4899, name: 'subscriptions', weight: 3, amountFactor: 0.6, channels: [['ecom', 0.75], ['moto', 0.25]], highValue: false },
  { mcc: 5967, name: 'direct marketing', weight: 2, amountFactor: 1, channels: [['moto', 0.6], ['ecom', 0.4]], highValue: false },
  { mcc: 4121, name: 'taxis and rideshare', weight: 5, amountFactor: 0.6, channels: [['ecom', 0.8], ['pos', 0.2]], highValue: false },
  { mcc: 4511, name: 'airlines', weight: 1.5, amountFactor: 9, channels: [['ecom', 0.9], ['moto', 0.1]], highValue: true },
  { mcc: 7011, name: 'hotels', weight: 2, amountFactor: 5, channels: [['pos', 0.5], ['ecom', 0.4], ['moto', 0.1]], highValue: false },
  { mcc: ATM_MCC, name: 'ATM', weight: 6, amountFactor: 1, channels: [['atm', 1]], highValue: true },
];

/** Share of a category's payments that are card-not-present (ecom or moto). */
export function cardNotPresentShare(category: MerchantCategory): number {
  let share = 0;
  for (const [channel, weight] of category.channels) if (channel === 'ecom' || channel === 'moto') share += weight;
  return share;
}

export const COUNTRY_BY_CODE: ReadonlyMap<string, Country> = new Map(COUNTRIES.map((c) => [c.code, c]));
