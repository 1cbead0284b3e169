import type { Channel } from '../schemas/event';
import type { DayContext } from './day-context';
import { fraudLabelDelayMs } from './labels';
import { toRoundAmount, toLocalAmount } from './money';
import { sampleChannel } from './population';
import type { Rng } from './prng';
import { CATEGORIES, COUNTRIES } from './reference-data';
import { DAY_MS } from './rhythm';
import type { DraftEvent, FraudPattern } from './types';

// The three fraud schemes. Each produces one incident: a handful to a few dozen events that share
// a victim card or a merchant and a short time window. An incident starts on the day it is drawn
// for and may run into the next one(s); the caller routes each event to its own day.

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export interface FraudPatternSpec {
  /** Events per incident, both ends included. */
  readonly minSize: number;
  readonly maxSize: number;
  readonly generate: (ctx: DayContext, size: number) => DraftEvent[];
}

/** `n` sorted times spread uniformly over [start, start + span). */
function burstTimes(rng: Rng, start: number, span: number, n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(start + Math.floor(rng.next() * span));
  return times.sort((a, b) => a - b);
}

function fraud(ctx: DayContext, pattern: FraudPattern, ts: number, card: number, merchant: number, amount: number, channel: Channel): DraftEvent {
  return { ts, card, merchant, amount, channel, pattern, labelAt: ts + fraudLabelDelayMs(ctx.rng) };
}

/**
 * Card testing: a stolen card number is probed with tiny card-not-present payments at many
 * unrelated online merchants within minutes, to learn whether it is live before it is sold.
 */
function cardTesting(ctx: DayContext, size: number): DraftEvent[] {
  const { rng, population } = ctx;
  // Stolen numbers come from breaches, not from the busiest cardholders: any card will do.
  const card = rng.int(population.cards.length);
  const times = burstTimes(rng, ctx.dayStartMs + rng.int(DAY_MS), rng.uniform(2, 15) * MINUTE_MS, size);
  const tried = new Set<number>();
  return times.map((ts) => {
    // Testers spread probes over merchants so no single one notices; a few redraws suffice.
    let merchant = population.lowTicketOnline.sample(rng);
    for (let redraw = 0; tried.has(merchant) && redraw < 8; redraw++) merchant = population.lowTicketOnline.sample(rng);
    tried.add(merchant);
    const r = rng.next();
    const usd = r < 0.3 ? 1 : r < 0.9 ? rng.uniform(0.5, 2.5) : rng.uniform(2.5, 9.99);
    const amount = toLocalAmount(usd * ctx.amountFactor, COUNTRIES[population.merchants[merchant]!.country]!);
    return fraud(ctx, 'card_testing', ts, card, merchant, amount, rng.chance(0.9) ? 'ecom' : 'moto');
  });
}

/**
 * Account takeover: a fraudster with the card's credentials goes on a spree abroad for a few
 * hours, buying resellable goods and withdrawing cash at many times the cardholder's usual ticket.
 */
function accountTakeover(ctx: DayContext, size: number): DraftEvent[] {
  const { rng, population } = ctx;
  // Takeovers target accounts in use: worth stealing, and their owners notice late.
  const card = population.cardsByActivity.sample(rng);
  const { mu, country: home } = population.cards[card]!;
  let abroad = population.merchants[population.allMerchants.sample(rng)]!.country;
  for (let tries = 0; abroad === home && tries < 16; tries++) abroad = population.merchants[population.allMerchants.sample(rng)]!.country;
  if (abroad === home) abroad = (home + 1) % COUNTRIES.length;
  const shops = population.highValueByCountry[abroad]!;
  const country = COUNTRIES[abroad]!;

  const times = burstTimes(rng, ctx.dayStartMs + rng.int(DAY_MS), rng.uniform(1, 6) * HOUR_MS, size);
  return times.map((ts) => {
    const merchant = shops.sample(rng);
    const category = population.merchants[merchant]!.category;
    const channel = sampleChannel(population, category, rng);
    const usd = Math.exp(mu) * rng.uniform(5, 20) * ctx.amountFactor;
    const amount =
      channel === 'atm' ? toRoundAmount(Math.min(usd, 1000), country) : toLocalAmount(usd * Math.sqrt(CATEGORIES[category]!.amountFactor), country);
    return fraud(ctx, 'account_takeover', ts, card, merchant, amount, channel);
  });
}

/** Round sums a colluding merchant keys in, in US dollars. */
const ROUND_USD = [100, 150, 200, 250, 300, 500, 750, 1000];

/**
 * Compromised merchant: a merchant turns bad for a day or so (bust-out, or a terminal in
 * fraudsters' hands) and runs stolen cards, none of which has been there before, with keyed-in
 * or online payments for unusual, often round amounts, day and night alike.
 */
function compromisedMerchant(ctx: DayContext, size: number): DraftEvent[] {
  const { rng, population } = ctx;
  const merchant = population.allMerchants.sample(rng);
  const { country: countryIndex, category } = population.merchants[merchant]!;
  const country = COUNTRIES[countryIndex]!;
  const typicalUsd = 30 * CATEGORIES[category]!.amountFactor;

  const times = burstTimes(rng, ctx.dayStartMs + rng.int(DAY_MS), rng.uniform(6, 36) * HOUR_MS, size);
  return times.map((ts) => {
    // Stolen cards, bought in bulk: not this merchant's regulars.
    let card = rng.int(population.cards.length);
    for (let redraw = 0; population.cards[card]!.preferred.includes(merchant) && redraw < 4; redraw++) card = rng.int(population.cards.length);
    const amount = rng.chance(0.5)
      ? toRoundAmount(rng.pick(ROUND_USD) * ctx.amountFactor, country)
      : toLocalAmount(typicalUsd * rng.uniform(3, 10) * ctx.amountFactor, country);
    return fraud(ctx, 'compromised_merchant', ts, card, merchant, amount, rng.chance(0.6) ? 'moto' : 'ecom');
  });
}

export const FRAUD_PATTERN_SPECS: Readonly<Record<FraudPattern, FraudPatternSpec>> = {
  card_testing: { minSize: 6, maxSize: 25, generate: cardTesting },
  account_takeover: { minSize: 3, maxSize: 10, generate: accountTakeover },
  compromised_merchant: { minSize: 15, maxSize: 60, generate: compromisedMerchant },
};

export function meanIncidentSize(pattern: FraudPattern): number {
  const spec = FRAUD_PATTERN_SPECS[pattern];
  return (spec.minSize + spec.maxSize) / 2;
}
