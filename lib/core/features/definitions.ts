// Declarative feature definitions. A FeatureSet says WHAT is computed; engine.ts is the one
// interpreter of it, called by the stream, online scoring, batch scoring, backfills and the
// training-set builder alike (DESIGN.md principle 1).

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/**
 * A sliding window evaluated on tiles: the window for time t is the `spanMs / tileMs` tiles
 * ending with the tile that contains t. Tiling bounds the state (a card with 10,000 events a week
 * keeps at most a few hundred tiles) at the cost of a window edge that moves in tile steps.
 */
export interface WindowDefinition {
  readonly spanMs: number;
  readonly tileMs: number;
}

export type CardAggregation = 'count' | 'sum' | 'mean' | 'max';
export type RequestField = 'amount_usd' | 'mcc' | 'channel_code' | 'local_hour';

export type FeatureDefinition =
  /** count / sum / mean / max of the card's USD amounts over a window. */
  | { readonly name: string; readonly kind: 'card_window'; readonly window: string; readonly agg: CardAggregation }
  /** Share of the card's events in the window that happened at local night (00:00–05:59). */
  | { readonly name: string; readonly kind: 'card_night_share'; readonly window: string }
  /** Distinct merchants the card paid in the window. */
  | { readonly name: string; readonly kind: 'card_distinct_merchants'; readonly window: string }
  /** Seconds since the card's previous event; -1 for its first. */
  | { readonly name: string; readonly kind: 'card_seconds_since_prev' }
  /** (amount − mean) / std of the card's amounts over the window (std floored at 1 USD); 0 with < 2 events. */
  | { readonly name: string; readonly kind: 'card_amount_zscore'; readonly window: string }
  /** amount / mean of the card's amounts over the window; 1 with no history. */
  | { readonly name: string; readonly kind: 'card_amount_ratio'; readonly window: string }
  /** 1 when the event's country differs from the card's home country (its most frequent one). */
  | { readonly name: string; readonly kind: 'card_foreign_country' }
  /** 1 when the card has not paid this merchant within the look-back days before the lateness horizon. */
  | { readonly name: string; readonly kind: 'card_new_merchant'; readonly lookbackDays: number }
  /** Events at the merchant over the window's closed tiles (see merchantLagMs). */
  | { readonly name: string; readonly kind: 'merchant_count'; readonly window: string }
  /** Share of the merchant's events in the window made by cards new to the merchant. */
  | { readonly name: string; readonly kind: 'merchant_new_card_share'; readonly window: string }
  /** A field of the request event itself. */
  | { readonly name: string; readonly kind: 'request'; readonly field: RequestField };

export type FeatureKind = FeatureDefinition['kind'];

export interface FeatureSet {
  readonly name: string;
  readonly version: number;
  readonly windows: Readonly<Record<string, WindowDefinition>>;
  readonly features: readonly FeatureDefinition[];
}

/** Kinds whose value depends only on the entity's state (servable without a request). */
export const ENTITY_ONLY_KINDS: ReadonlySet<FeatureKind> = new Set(['card_window', 'card_night_share', 'card_distinct_merchants']);

const W = (spanMs: number, tileMs: number): WindowDefinition => ({ spanMs, tileMs });

/** The reference workload (card-transaction fraud): the features every test, demo and benchmark uses. */
export const referenceFeatureSet: FeatureSet = {
  name: 'card_fraud',
  version: 1,
  windows: {
    '1h': W(HOUR_MS, MINUTE_MS),
    '24h': W(DAY_MS, HOUR_MS),
    '7d': W(7 * DAY_MS, HOUR_MS),
    '30d': W(30 * DAY_MS, DAY_MS),
  },
  features: [
    ...(['1h', '24h', '7d'] as const).flatMap((w) =>
      (['count', 'sum', 'mean', 'max'] as const).map(
        (agg): FeatureDefinition => ({ name: `card_amount_${agg}_${w}`.replace('amount_count', 'txn_count'), kind: 'card_window', window: w, agg }),
      ),
    ),
    { name: 'card_distinct_merchants_24h', kind: 'card_distinct_merchants', window: '24h' },
    { name: 'card_seconds_since_prev', kind: 'card_seconds_since_prev' },
    { name: 'card_amount_zscore_30d', kind: 'card_amount_zscore', window: '30d' },
    { name: 'card_amount_ratio_30d', kind: 'card_amount_ratio', window: '30d' },
    { name: 'card_foreign_country', kind: 'card_foreign_country' },
    { name: 'card_night_share_7d', kind: 'card_night_share', window: '7d' },
    { name: 'card_new_merchant', kind: 'card_new_merchant', lookbackDays: 30 },
    { name: 'merchant_txn_count_24h', kind: 'merchant_count', window: '24h' },
    { name: 'merchant_new_card_share_24h', kind: 'merchant_new_card_share', window: '24h' },
    { name: 'amount_usd', kind: 'request', field: 'amount_usd' },
    { name: 'mcc', kind: 'request', field: 'mcc' },
    { name: 'channel_code', kind: 'request', field: 'channel_code' },
    { name: 'local_hour', kind: 'request', field: 'local_hour' },
  ],
};
