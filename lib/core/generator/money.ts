import type { Country } from './reference-data';

// Amounts are drawn in US dollars so that one cardholder profile means the same spending
// anywhere, then converted to the merchant's currency and rounded to its minor unit, as a
// terminal would record them.

/** The smallest amount recorded: an authorisation for less is not a purchase. */
const MIN_USD = 0.3;
/** Above this, issuers decline outright; the tail of a log-normal would otherwise run away. */
const MAX_USD = 25_000;

export function toLocalAmount(usd: number, country: Country): number {
  const clamped = Math.min(MAX_USD, Math.max(MIN_USD, usd));
  const local = clamped * country.unitsPerUsd;
  if (country.minorDigits === 0) return Math.max(1, Math.round(local));
  return Math.max(0.01, Math.round(local * 100) / 100);
}

/** Round sums, multiples of a banknote (10 USD, 10 EUR, 1 000 JPY, 100 INR): ATM withdrawals. */
export function toRoundAmount(usd: number, country: Country): number {
  const note = 10 * 10 ** Math.max(0, Math.floor(Math.log10(country.unitsPerUsd)));
  return Math.max(1, Math.round((usd * country.unitsPerUsd) / note)) * note;
}

/** Local amount back to US dollars: for comparing amounts across currencies. */
export function toUsd(amount: number, country: Country): number {
  return amount / country.unitsPerUsd;
}
