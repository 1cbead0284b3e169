import type { DayContext } from './day-context';
import { legitLabelDelayMs } from './labels';
import { toRoundAmount, toLocalAmount } from './money';
import { sampleChannel } from './population';
import { CATEGORIES, COUNTRIES } from './reference-data';
import { WEEKDAY_SAMPLER, WEEKEND_AMOUNT_FACTOR, WEEKEND_SAMPLER, localToUtcMsOfDay } from './rhythm';
import type { DraftEvent } from './types';

/** Share of a cardholder's payments at merchants they already use. */
const PREFERRED_SHARE = 0.6;
/** Share at some other merchant in their home country; the rest is travel and cross-border ecom. */
const HOME_SHARE = 0.375;

/** One ordinary payment: a card, a merchant it plausibly uses, its usual kind of amount. */
export function legitEvent(ctx: DayContext): DraftEvent {
  const { rng, population } = ctx;
  const cardIndex = population.cardsByActivity.sample(rng);
  const card = population.cards[cardIndex]!;

  const r = rng.next();
  const merchantIndex =
    r < PREFERRED_SHARE
      ? card.preferred[rng.int(card.preferred.length)]!
      : r < PREFERRED_SHARE + HOME_SHARE
        ? population.merchantsByCountry[card.country]!.sample(rng)
        : population.allMerchants.sample(rng);
  const merchant = population.merchants[merchantIndex]!;
  const merchantCountry = COUNTRIES[merchant.country]!;
  const channel = sampleChannel(population, merchant.category, rng);

  // Card-present payments follow the shop's clock; card-not-present ones the cardholder's.
  const clock = channel === 'pos' || channel === 'atm' ? merchantCountry : COUNTRIES[card.country]!;
  const localMs = (ctx.weekend ? WEEKEND_SAMPLER : WEEKDAY_SAMPLER).sampleLocalMs(rng);
  const ts = ctx.dayStartMs + localToUtcMsOfDay(localMs, clock.utcOffsetMinutes);

  const factor = ctx.amountFactor * (ctx.weekend ? WEEKEND_AMOUNT_FACTOR : 1);
  const typicalUsd = Math.exp(card.mu);
  const amount =
    channel === 'atm'
      ? // Withdrawals scale with the cardholder's spending, around 80 USD for a typical one.
        toRoundAmount(rng.logNormal(Math.log(80), 0.6) * Math.sqrt(typicalUsd / 30) * factor, merchantCountry)
      : toLocalAmount(rng.logNormal(card.mu, card.sigma) * CATEGORIES[merchant.category]!.amountFactor * factor, merchantCountry);

  return { ts, card: cardIndex, merchant: merchantIndex, amount, channel, pattern: null, labelAt: ts + legitLabelDelayMs() };
}
