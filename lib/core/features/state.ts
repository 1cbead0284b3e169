// In-memory entity states the engine mutates. Their size is bounded by the windows, not by the
// number of events: tiles, a visit list per recently-paid merchant, a short reorder buffer and a
// dedupe horizon of event ids.

import { SeenIds } from './seen-ids';
import { cloneLevel, emptyLevel, type TileLevel } from './tile-level';

/** A merchant the card paid: the latest hour tile and the sorted distinct day indices (bounded look-back). */
export interface MerchantVisit {
  h: number;
  d: number[];
}

/** The committed part of a card's state: every event with key ≤ (last, lastId), none later. */
export interface CardAggregate {
  last: number;
  lastId: string;
  /** Per tile level: count, sum, max and sum of squares of USD cents, and night-time events. */
  levels: TileLevel[];
  merchants: Map<string, MerchantVisit>;
  countries: Map<string, number>;
  /** Derived from `countries`: the most frequent country (ties to the smaller code) and its count. */
  home: string;
  homeN: number;
  /**
   * The engine's memo of window sums and recent merchant hours (engine.ts, "the memo"): derived
   * from the fields above, never stored, built on first use.
   */
  memo: number[] | undefined;
}

/**
 * An event waiting in the reorder buffer, with what was fixed at its arrival: the merchant-side
 * features and the new-merchant flag depend only on events older than the lateness horizon, so
 * computing them on arrival gives the same value whatever order the rest arrives in.
 */
export interface PendingEvent {
  id: string;
  ts: number;
  merchant: string;
  cents: number;
  country: string;
  mcc: number;
  channel: number;
  localHour: number;
  newMerchant: number;
  merchantFeatures: number[];
  /**
   * Where the stream's pass put this event's vector while its merchant features were still to
   * come (engine.ingestCard), -1 otherwise: owned by the engine, never stored.
   */
  vectorAt: number;
}

export interface CardState {
  agg: CardAggregate;
  pending: PendingEvent[];
  /** Latest event time seen (accepted), the per-entity watermark's base. */
  maxTs: number;
  /** Accepted event ids with their event time, kept while ts ≥ maxTs − dedupe horizon. */
  seen: SeenIds;
  /** Ids of events accepted on the late path older than the dedupe horizon, with maxTs at arrival. */
  lateIds: Map<string, number>;
}

export interface MerchantTile {
  i: number;
  n: number;
  c: number;
}

export interface MerchantState {
  tiles: MerchantTile[];
  maxTs: number;
  /**
   * Memo of the merchant window's sums (count, new-card count) over the closed tiles below
   * `memoHi`, owned by the engine and never stored: a busy merchant sees many events an hour, all
   * asking for the same closed tiles. Undefined when there is none.
   */
  memoHi?: number | undefined;
  memoN?: number | undefined;
  memoC?: number | undefined;
}

export function emptyCardState(levelCount: number): CardState {
  return {
    agg: { last: -1, lastId: '', levels: Array.from({ length: levelCount }, () => emptyLevel()), merchants: new Map(), countries: new Map(), home: '', homeN: 0, memo: undefined },
    pending: [],
    maxTs: -1,
    seen: new SeenIds(),
    lateIds: new Map(),
  };
}

export function emptyMerchantState(): MerchantState {
  return merchantState([], -1);
}

/** Every merchant state is built here, so all share one object shape (monomorphic engine code). */
export function merchantState(tiles: MerchantTile[], maxTs: number): MerchantState {
  return { tiles, maxTs, memoHi: undefined, memoN: undefined, memoC: undefined };
}

export function cloneAggregate(a: CardAggregate): CardAggregate {
  return {
    last: a.last,
    lastId: a.lastId,
    levels: a.levels.map(cloneLevel),
    merchants: new Map([...a.merchants].map(([k, v]) => [k, { h: v.h, d: [...v.d] }])),
    countries: new Map(a.countries),
    home: a.home,
    homeN: a.homeN,
    // The copy is changed apart from the original: it builds its own memo when it needs one.
    memo: undefined,
  };
}
