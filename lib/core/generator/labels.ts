import type { Rng } from './prng';
import { DAY_MS } from './rhythm';

// When the truth about an event becomes known. A model can only be trained or evaluated on
// labels that had arrived by then, so the delay matters as much as the label.
//
// - Legitimate: an event is deemed legitimate once its maturity window has passed with no
//   dispute: exactly LEGIT_MATURITY_DAYS after the event. (Real chargeback windows run to 120
//   days; 30 is the usual compromise between label accuracy and freshness.)
// - Fraudulent: a quarter is confirmed within hours (issuer alert, cardholder calls in); the rest
//   arrive through chargebacks after days to weeks (log-normal, median 6 days). Every fraud label
//   arrives before the maturity window closes, so a label never flips from 0 to 1.

export const LEGIT_MATURITY_DAYS = 30;
const HOUR_MS = 3_600_000;
const MIN_FRAUD_DELAY_MS = HOUR_MS;
const MAX_FRAUD_DELAY_MS = (LEGIT_MATURITY_DAYS - 1) * DAY_MS;

export function legitLabelDelayMs(): number {
  return LEGIT_MATURITY_DAYS * DAY_MS;
}

export function fraudLabelDelayMs(rng: Rng): number {
  if (rng.chance(0.25)) return Math.round(rng.logUniform(MIN_FRAUD_DELAY_MS, 48 * HOUR_MS));
  const delay = rng.logNormal(Math.log(6 * DAY_MS), 0.7);
  return Math.round(Math.min(MAX_FRAUD_DELAY_MS, Math.max(DAY_MS, delay)));
}
