// Static reference data for the reference workload's features.
// Deliberately static and versioned with the feature set: a feature must compute the same value
// at training, streaming and serving time, so it may not depend on a live FX feed or a tz database
// whose answers change under a deployed model. Changing a table means a new feature-set version.

/** Reference FX rates to USD (units of USD per unit of currency), fixed for feature-set version 1. */
export const USD_PER_UNIT: Readonly<Record<string, number>> = {
  USD: 1, EUR: 1.08, GBP: 1.27, CHF: 1.12, SEK: 0.095, NOK: 0.094, DKK: 0.145, PLN: 0.25,
  CZK: 0.044, HUF: 0.0028, RON: 0.22, TRY: 0.031, CAD: 0.74, MXN: 0.058, BRL: 0.2, ARS: 0.0011,
  CLP: 0.0011, COP: 0.00025, JPY: 0.0067, CNY: 0.14, HKD: 0.128, SGD: 0.74, KRW: 0.00075,
  INR: 0.012, IDR: 0.000064, THB: 0.028, PHP: 0.018, MYR: 0.21, VND: 0.00004, AUD: 0.66,
  NZD: 0.61, ZAR: 0.054, NGN: 0.00075, KES: 0.0077, EGP: 0.021, AED: 0.27, SAR: 0.27,
  ILS: 0.27, RUB: 0.011, UAH: 0.025,
};

/** Standard-time UTC offsets in hours (no DST: see above) for "local hour" and "night" features. */
export const UTC_OFFSET_HOURS: Readonly<Record<string, number>> = {
  US: -6, CA: -5, MX: -6, BR: -3, AR: -3, CL: -4, CO: -5, GB: 0, IE: 0, PT: 0, ES: 1, FR: 1,
  DE: 1, IT: 1, NL: 1, BE: 1, CH: 1, AT: 1, SE: 1, NO: 1, DK: 1, PL: 1, CZ: 1, HU: 1, RO: 2,
  GR: 2, FI: 2, TR: 3, RU: 3, UA: 2, EG: 2, ZA: 2, NG: 1, KE: 3, AE: 4, SA: 3, IL: 2, IN: 5.5,
  CN: 8, HK: 8, SG: 8, JP: 9, KR: 9, ID: 7, TH: 7, PH: 8, MY: 8, VN: 7, AU: 10, NZ: 12,
};

// Looked up through Maps: the engine asks for a different key at nearly every event, a hash
// probe here where it was a megamorphic keyed load on the 40-key objects.
const USD_BY_CURRENCY = new Map(Object.entries(USD_PER_UNIT));
const UTC_OFFSET_BY_COUNTRY = new Map(Object.entries(UTC_OFFSET_HOURS));

export const usdPerUnit = (currency: string): number => USD_BY_CURRENCY.get(currency) ?? 1;
export const utcOffsetHours = (country: string): number => UTC_OFFSET_BY_COUNTRY.get(country) ?? 0;
