// The one feature engine. It interprets a FeatureSet over entity states and is shared by every
// driver: the incremental one (stream), the batch one (replay, backfill, training sets) and
// online scoring. The feature vector of an event e is f(S, e) where S holds exactly the entity's
// events ordered before e by (event time, event id): both drivers feed the aggregate in that order,
// so their arithmetic — floating point included — is the same sequence of operations.
import { CHANNELS, type TimedEvent } from '../schemas/event';
import { ConfigError } from '../errors';
import { DAY_MS, HOUR_MS, ENTITY_ONLY_KINDS, type FeatureDefinition, type FeatureSet, type WindowDefinition } from './definitions';
import { usdPerUnit, utcOffsetHours } from './reference-data';
import {
  cloneAggregate,
  emptyCardState,
  type CardAggregate,
  type CardState,
  type MerchantState,
  type PendingEvent,
} from './state';
import { STRIDE, I, TN, TS, TM, TQ, TZ, tileAt, dropBefore } from './tile-level';

export interface EngineOptions {
  /** How far out of event-time order events may arrive and still be placed exactly. Default 300 s. */
  readonly allowedLatenessMs?: number;
  /** How long accepted event ids are remembered for deduplication, in event time. Default 24 h. */
  readonly dedupeHorizonMs?: number;
  /** Reorder-buffer bound per entity; past it the oldest events commit early. Default 5,000. */
  readonly maxPending?: number;
}

interface Level {
  readonly tileMs: number;
  /** Tiles kept behind the commit frontier: the longest window on this level plus one. */
  readonly keep: number;
}

interface CompiledWindow {
  readonly index: number;
  readonly level: number;
  readonly tiles: number;
}

/** Fields of a window's aggregate in the scratch buffer (stride W). */
const N = 0, S = 1, M = 2, Q = 3, Z = 4, W = 5;

/** A feature compiled to numeric codes, so the per-event loop allocates nothing and switches on ints. */
interface Slot {
  readonly op: number;
  readonly w: number;
  readonly arg: number;
}
const OP = {
  count: 0, sum: 1, mean: 2, max: 3, night: 4, distinct: 5, sincePrev: 6, zscore: 7, ratio: 8, foreign: 9, newMerchant: 10, merchant: 11,
  amount: 12, mcc: 13, channel: 14, hour: 15,
} as const;

export type IngestStatus = 'accepted' | 'late' | 'duplicate' | 'too_late';

export interface LoggedVector {
  readonly eventId: string;
  readonly ts: number;
  readonly values: number[];
  /** Set for events that arrived behind the commit frontier: their vector saw some later events. */
  readonly late: boolean;
}

export interface IngestResult {
  readonly status: IngestStatus;
  /** New-merchant flag of the event (for the merchant-side aggregate); valid unless too_late. */
  readonly newMerchant: number;
  /** Vectors committed by this ingest, in commit (event-time) order. */
  readonly committed: LoggedVector[];
}

const keyBefore = (ts1: number, id1: string, ts2: number, id2: string): boolean => ts1 < ts2 || (ts1 === ts2 && id1 < id2);

/** Standard deviation floor, in cents: one USD, so a card with constant amounts does not divide by ~0. */
const STD_FLOOR_CENTS = 100;

export class FeatureEngine {
  readonly featureSet: FeatureSet;
  readonly names: readonly string[];
  /** Names of the features servable from entity state alone (the online store's current vector). */
  readonly entityFeatureNames: readonly string[];
  /** Names of the merchant-side features, in the order merchantFeatures() returns them. */
  readonly merchantFeatureNames: readonly string[];
  readonly version: string;
  readonly allowedLatenessMs: number;
  readonly dedupeHorizonMs: number;
  readonly maxPending: number;
  /** Events older than this behind the newest are ignored for state: no window reaches them. */
  readonly longestSpanMs: number;

  private readonly levels: Level[];
  private readonly windows: Map<string, CompiledWindow>;
  /** Per level, its windows by ascending length: one backwards scan fills all of them. */
  private readonly levelWindows: CompiledWindow[][];
  private readonly slots: Slot[];
  private readonly scratch: Float64Array;
  private readonly merchantDefs: FeatureDefinition[];
  private readonly merchantTileMs: number;
  private readonly merchantTiles: number;
  private readonly distinctHours: number;
  private readonly lookbackDays: number;

  constructor(featureSet: FeatureSet, options: EngineOptions = {}) {
    this.featureSet = featureSet;
    this.allowedLatenessMs = options.allowedLatenessMs ?? 300_000;
    this.dedupeHorizonMs = options.dedupeHorizonMs ?? DAY_MS;
    this.maxPending = options.maxPending ?? 5_000;
    if (!(this.allowedLatenessMs >= 0 && this.allowedLatenessMs <= HOUR_MS)) {
      // The merchant windows and the new-merchant look-back rely on 2 × lateness < 1 hour tile margin.
      throw new ConfigError('allowedLatenessMs must be between 0 and 3,600,000 (one hour)', 'allowedLatenessMs');
    }
    if (!(this.dedupeHorizonMs >= this.allowedLatenessMs)) {
      throw new ConfigError('dedupeHorizonMs must be at least allowedLatenessMs', 'dedupeHorizonMs');
    }
    this.names = featureSet.features.map((f) => f.name);
    if (new Set(this.names).size !== this.names.length) throw new ConfigError('feature names must be unique', 'features');
    this.entityFeatureNames = featureSet.features.filter((f) => ENTITY_ONLY_KINDS.has(f.kind)).map((f) => f.name);

    const levelIndex = new Map<number, number>();
    const levels: { tileMs: number; keep: number }[] = [];
    this.windows = new Map();
    const windowOf = (name: string, feature: string): WindowDefinition => {
      const w = featureSet.windows[name];
      if (!w) throw new ConfigError(`feature ${feature} names unknown window '${name}'`, `features.${feature}.window`);
      if (!(w.tileMs > 0 && w.spanMs % w.tileMs === 0)) {
        throw new ConfigError(`window '${name}' span must be a whole number of tiles`, `windows.${name}`);
      }
      return w;
    };
    const cardWindows = new Set<string>();
    let merchantWindow: WindowDefinition | undefined;
    let distinctWindow: WindowDefinition | undefined;
    let lookback = 0;
    for (const f of featureSet.features) {
      switch (f.kind) {
        case 'card_window':
        case 'card_night_share':
        case 'card_amount_zscore':
        case 'card_amount_ratio':
          windowOf(f.window, f.name);
          cardWindows.add(f.window);
          break;
        case 'card_distinct_merchants': {
          const w = windowOf(f.window, f.name);
          if (distinctWindow && distinctWindow !== w) throw new ConfigError('one distinct-merchant window per feature set', `features.${f.name}`);
          distinctWindow = w;
          break;
        }
        case 'merchant_count':
        case 'merchant_new_card_share': {
          const w = windowOf(f.window, f.name);
          if (merchantWindow && merchantWindow !== w) throw new ConfigError('one merchant window per feature set', `features.${f.name}`);
          merchantWindow = w;
          break;
        }
        case 'card_new_merchant':
          lookback = Math.max(lookback, f.lookbackDays);
          break;
        default:
          break;
      }
    }
    for (const name of cardWindows) {
      const w = featureSet.windows[name]!;
      let li = levelIndex.get(w.tileMs);
      if (li === undefined) {
        li = levels.length;
        levelIndex.set(w.tileMs, li);
        levels.push({ tileMs: w.tileMs, keep: 0 });
      }
      const tiles = w.spanMs / w.tileMs;
      levels[li]!.keep = Math.max(levels[li]!.keep, tiles + 1);
      this.windows.set(name, { index: this.windows.size, level: li, tiles });
    }
    this.levels = levels;
    this.levelWindows = levels.map((_, li) => [...this.windows.values()].filter((w) => w.level === li).sort((a, b) => a.tiles - b.tiles));
    this.scratch = new Float64Array(Math.max(1, this.windows.size) * W);
    let merchantSlot = 0;
    this.slots = featureSet.features.map((f): Slot => {
      const w = 'window' in f && this.windows.has(f.window) ? this.windows.get(f.window)!.index * W : 0;
      switch (f.kind) {
        case 'card_window':
          return { op: OP[f.agg], w, arg: 0 };
        case 'card_night_share':
          return { op: OP.night, w, arg: 0 };
        case 'card_distinct_merchants':
          return { op: OP.distinct, w, arg: 0 };
        case 'card_seconds_since_prev':
          return { op: OP.sincePrev, w, arg: 0 };
        case 'card_amount_zscore':
          return { op: OP.zscore, w, arg: 0 };
        case 'card_amount_ratio':
          return { op: OP.ratio, w, arg: 0 };
        case 'card_foreign_country':
          return { op: OP.foreign, w, arg: 0 };
        case 'card_new_merchant':
          return { op: OP.newMerchant, w, arg: 0 };
        case 'merchant_count':
        case 'merchant_new_card_share':
          return { op: OP.merchant, w, arg: merchantSlot++ };
        case 'request':
          return { op: f.field === 'amount_usd' ? OP.amount : f.field === 'mcc' ? OP.mcc : f.field === 'channel_code' ? OP.channel : OP.hour, w, arg: 0 };
      }
    });
    this.merchantDefs = featureSet.features.filter((f) => f.kind === 'merchant_count' || f.kind === 'merchant_new_card_share');
    this.merchantFeatureNames = this.merchantDefs.map((f) => f.name);
    this.merchantTileMs = merchantWindow?.tileMs ?? HOUR_MS;
    this.merchantTiles = merchantWindow ? merchantWindow.spanMs / merchantWindow.tileMs : 0;
    this.distinctHours = distinctWindow ? Math.ceil(distinctWindow.spanMs / HOUR_MS) : 0;
    this.lookbackDays = lookback;
    this.longestSpanMs = Math.max(DAY_MS, ...Object.values(featureSet.windows).map((w) => w.spanMs), lookback * DAY_MS);
    this.version = `${featureSet.name}.v${featureSet.version}`;
  }

  // ---- event preparation -------------------------------------------------------------------

  newCardState(): CardState {
    return emptyCardState(this.levels.length);
  }

  /** The event reduced to what the engine needs, plus the arrival-time (order-independent) parts. */
  prepare(e: TimedEvent, newMerchant: number, merchantFeatures: number[]): PendingEvent {
    const offset = utcOffsetHours(e.country);
    const hourOfDay = (((e.ts / HOUR_MS + offset) % 24) + 24) % 24;
    return {
      id: e.event_id,
      ts: e.ts,
      merchant: e.merchant_id,
      cents: Math.round(e.amount * usdPerUnit(e.currency) * 100),
      country: e.country,
      mcc: e.mcc,
      channel: CHANNELS.indexOf(e.channel),
      localHour: Math.floor(hourOfDay),
      newMerchant,
      merchantFeatures,
    };
  }

  // ---- merchant side -----------------------------------------------------------------------

  /**
   * Merchant features over tiles that closed before (ts − lateness): every event in them arrived
   * before this one could (the lateness bound), so the value does not depend on arrival order.
   */
  merchantFeatures(m: MerchantState | undefined, ts: number): number[] {
    let n = 0;
    let c = 0;
    if (m) {
      const hi = Math.floor((ts - this.allowedLatenessMs) / this.merchantTileMs); // exclusive
      const lo = hi - this.merchantTiles;
      for (let k = m.tiles.length - 1; k >= 0; k--) {
        const t = m.tiles[k]!;
        if (t.i >= hi) continue;
        if (t.i < lo) break;
        n += t.n;
        c += t.c;
      }
    }
    return this.merchantDefs.map((f) => (f.kind === 'merchant_count' ? n : n === 0 ? 0 : c / n));
  }

  applyMerchant(m: MerchantState, ts: number, newCard: number): void {
    const i = Math.floor(ts / this.merchantTileMs);
    const tiles = m.tiles;
    let k = tiles.length - 1;
    while (k >= 0 && tiles[k]!.i > i) k--;
    if (k >= 0 && tiles[k]!.i === i) {
      tiles[k]!.n += 1;
      tiles[k]!.c += newCard;
    } else {
      tiles.splice(k + 1, 0, { i, n: 1, c: newCard });
    }
    if (ts > m.maxTs) m.maxTs = ts;
    if (tiles.length > 4 * (this.merchantTiles + 2)) this.pruneMerchant(m);
  }

  /** Drops tiles no window can reach again; canonical, so final states compare exactly. */
  pruneMerchant(m: MerchantState): void {
    const margin = Math.ceil((2 * this.allowedLatenessMs) / this.merchantTileMs) + 2;
    const lo = Math.floor(m.maxTs / this.merchantTileMs) - this.merchantTiles - margin;
    const first = m.tiles.findIndex((t) => t.i >= lo);
    if (first > 0) m.tiles.splice(0, first);
    else if (first === -1) m.tiles.length = 0;
  }

  // ---- card side ---------------------------------------------------------------------------

  /**
   * 1 when the card paid this merchant on none of the look-back days before the day of
   * (ts − lateness): only events that must already have arrived decide it.
   */
  newMerchantFlag(card: CardState, merchant: string, ts: number): number {
    if (this.lookbackDays === 0) return 0;
    const hi = Math.floor((ts - this.allowedLatenessMs) / DAY_MS); // exclusive
    const lo = hi - this.lookbackDays;
    const v = card.agg.merchants.get(merchant);
    if (v) for (const d of v.d) if (d >= lo && d < hi) return 0;
    for (const p of card.pending) {
      if (p.merchant !== merchant) continue;
      const d = Math.floor(p.ts / DAY_MS);
      if (d >= lo && d < hi) return 0;
    }
    return 1;
  }

  /** Fills the scratch buffer with every window's aggregate as of ts: one backwards pass per level. */
  private scanWindows(agg: CardAggregate, ts: number): void {
    const out = this.scratch;
    out.fill(0);
    for (let l = 0; l < this.levels.length; l++) {
      const wins = this.levelWindows[l]!;
      const hi = Math.floor(ts / this.levels[l]!.tileMs);
      const level = agg.levels[l]!;
      const d = level.data;
      let n = 0, s = 0, m = 0, q = 0, z = 0;
      let wi = 0;
      let lo = hi - wins[0]!.tiles + 1;
      for (let o = (level.len - 1) * STRIDE; o >= 0 && wi < wins.length; o -= STRIDE) {
        const ti = d[o + I]!;
        if (ti > hi) continue;
        while (ti < lo) {
          // Crossing a window's far edge: it is complete, snapshot it and widen to the next one.
          const w = wins[wi]!.index * W;
          out[w + N] = n; out[w + S] = s; out[w + M] = m; out[w + Q] = q; out[w + Z] = z;
          if (++wi === wins.length) break;
          lo = hi - wins[wi]!.tiles + 1;
        }
        if (wi === wins.length) break;
        n += d[o + TN]!; s += d[o + TS]!; q += d[o + TQ]!; z += d[o + TZ]!;
        if (d[o + TM]! > m) m = d[o + TM]!;
      }
      for (; wi < wins.length; wi++) {
        const o = wins[wi]!.index * W;
        out[o + N] = n; out[o + S] = s; out[o + M] = m; out[o + Q] = q; out[o + Z] = z;
      }
    }
  }

  /** f(S, e): the full vector of an event against the aggregate of everything ordered before it. */
  vector(agg: CardAggregate, e: PendingEvent): number[] {
    this.scanWindows(agg, e.ts);
    const w = this.scratch;
    const slots = this.slots;
    const out: number[] = [];
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const o = slot.w;
      const n = w[o + N]!;
      let v: number;
      switch (slot.op) {
        case OP.count: v = n; break;
        case OP.sum: v = w[o + S]! / 100; break;
        case OP.mean: v = n === 0 ? 0 : w[o + S]! / n / 100; break;
        case OP.max: v = w[o + M]! / 100; break;
        case OP.night: v = n === 0 ? 0 : w[o + Z]! / n; break;
        case OP.distinct: v = this.distinctMerchants(agg, e.ts); break;
        case OP.sincePrev: v = agg.last < 0 ? -1 : (e.ts - agg.last) / 1000; break;
        case OP.zscore: {
          if (n < 2) v = 0;
          else {
            const mean = w[o + S]! / n;
            const std = Math.max(Math.sqrt(Math.max(w[o + Q]! / n - mean * mean, 0)), STD_FLOOR_CENTS);
            v = (e.cents - mean) / std;
          }
          break;
        }
        case OP.ratio: v = n === 0 || w[o + S] === 0 ? 1 : e.cents / (w[o + S]! / n); break;
        case OP.foreign: v = agg.home === '' || agg.home === e.country ? 0 : 1; break;
        case OP.newMerchant: v = e.newMerchant; break;
        case OP.merchant: v = e.merchantFeatures[slot.arg] ?? 0; break;
        case OP.amount: v = e.cents / 100; break;
        case OP.mcc: v = e.mcc; break;
        case OP.channel: v = e.channel; break;
        default: v = e.localHour;
      }
      out.push(v);
    }
    return out;
  }

  private distinctMerchants(agg: CardAggregate, ts: number): number {
    const hi = Math.floor(ts / HOUR_MS);
    const lo = hi - this.distinctHours + 1;
    let n = 0;
    for (const v of agg.merchants.values()) if (v.h >= lo && v.h <= hi) n++;
    return n;
  }

  /** S ← S + e. Callers guarantee e is ordered after everything in S, except on the late path. */
  apply(agg: CardAggregate, e: PendingEvent): void {
    const night = e.localHour < 6 ? 1 : 0;
    for (let l = 0; l < this.levels.length; l++) {
      const i = Math.floor(e.ts / this.levels[l]!.tileMs);
      const level = agg.levels[l]!;
      if (level.len * STRIDE === level.data.length && agg.last >= 0) {
        // Full: drop what no window reaches before growing (the same canonical rule as pruneAggregate).
        dropBefore(level, Math.floor(agg.last / this.levels[l]!.tileMs) - this.levels[l]!.keep);
      }
      const o = tileAt(level, i);
      const d = level.data;
      d[o + TN]! += 1;
      d[o + TS]! += e.cents;
      d[o + TQ]! += e.cents * e.cents;
      d[o + TZ]! += night;
      if (e.cents > d[o + TM]!) d[o + TM] = e.cents;
    }
    const h = Math.floor(e.ts / HOUR_MS);
    const d = Math.floor(e.ts / DAY_MS);
    const visit = agg.merchants.get(e.merchant);
    if (!visit) agg.merchants.set(e.merchant, { h, d: [d] });
    else {
      if (h > visit.h) visit.h = h;
      const lastDay = visit.d[visit.d.length - 1]!;
      if (d > lastDay) visit.d.push(d);
      else if (d !== lastDay && !visit.d.includes(d)) {
        visit.d.push(d);
        visit.d.sort((a, b) => a - b);
      }
    }
    const cn = (agg.countries.get(e.country) ?? 0) + 1;
    agg.countries.set(e.country, cn);
    // Counts only grow, so the argmax (ties to the smaller code) can be kept up to date in O(1).
    if (cn > agg.homeN || (cn === agg.homeN && e.country < agg.home)) {
      agg.home = e.country;
      agg.homeN = cn;
    }
    if (keyBefore(agg.last, agg.lastId, e.ts, e.id)) {
      agg.last = e.ts;
      agg.lastId = e.id;
    }
  }

  /** Drops what no window can reach from the commit frontier on; canonical for exact comparison. */
  pruneAggregate(agg: CardAggregate): void {
    if (agg.last < 0) return;
    this.levels.forEach((level, l) => dropBefore(agg.levels[l]!, Math.floor(agg.last / level.tileMs) - level.keep));
    const dayLo = Math.floor(agg.last / DAY_MS) - this.lookbackDays - 2;
    const hourLo = Math.floor(agg.last / HOUR_MS) - this.distinctHours - 1;
    for (const [m, v] of agg.merchants) {
      if (v.d[0] !== undefined && v.d[0] < dayLo) v.d = v.d.filter((d) => d >= dayLo);
      if (v.d.length === 0 && v.h < hourLo) agg.merchants.delete(m);
    }
  }

  // ---- incremental driver ------------------------------------------------------------------

  /**
   * The stream's step for one event. Events wait in a per-entity reorder buffer until the entity's
   * watermark (newest event time − allowed lateness) passes them; they then commit in
   * (event time, id) order, each logging f(S, e) before S absorbs it. The result equals the batch
   * driver's over the sorted history whenever arrival disorder stays within the allowed lateness.
   */
  ingest(card: CardState, event: TimedEvent, merchant: MerchantState | undefined): IngestResult {
    const id = event.event_id;
    if (card.seen.has(id) || card.lateIds.has(id)) return { status: 'duplicate', newMerchant: this.newMerchantFlag(card, event.merchant_id, event.ts), committed: [] };
    if (card.maxTs >= 0 && event.ts < card.maxTs - this.longestSpanMs) return { status: 'too_late', newMerchant: 0, committed: [] };
    const newMerchant = this.newMerchantFlag(card, event.merchant_id, event.ts);
    const pe = this.prepare(event, newMerchant, this.merchantFeatures(merchant, event.ts));
    const agg = card.agg;
    if (agg.last >= 0 && keyBefore(pe.ts, pe.id, agg.last, agg.lastId)) {
      // Behind the commit frontier: place it in its windows now; its own vector saw later events.
      const values = this.vector(agg, pe);
      this.apply(agg, pe);
      if (pe.ts >= card.maxTs - this.dedupeHorizonMs) card.seen.set(id, pe.ts);
      else card.lateIds.set(id, card.maxTs);
      return { status: 'late', newMerchant, committed: [{ eventId: id, ts: pe.ts, values, late: true }] };
    }
    insertSorted(card.pending, pe);
    card.seen.set(id, pe.ts);
    if (pe.ts > card.maxTs) card.maxTs = pe.ts;
    const committed = this.commitUpTo(card, card.maxTs - this.allowedLatenessMs);
    this.pruneCard(card);
    return { status: 'accepted', newMerchant, committed };
  }

  /** Commits every pending event — what a drained stream with a final watermark does. */
  flush(card: CardState): LoggedVector[] {
    const out = this.commitUpTo(card, Number.POSITIVE_INFINITY);
    this.pruneCard(card);
    return out;
  }

  private commitUpTo(card: CardState, watermark: number): LoggedVector[] {
    const out: LoggedVector[] = [];
    const p = card.pending;
    let k = 0;
    while (k < p.length && (p[k]!.ts < watermark || p.length - k > this.maxPending)) {
      const e = p[k++]!;
      out.push({ eventId: e.id, ts: e.ts, values: this.vector(card.agg, e), late: false });
      this.apply(card.agg, e);
    }
    if (k > 0) p.splice(0, k);
    return out;
  }

  private pruneCard(card: CardState): void {
    // Amortised: prune when the id set has grown well past a horizon's worth, not on every event.
    if (card.seen.size > 64 && card.seen.size % 64 === 0) {
      this.pruneIds(card);
      this.pruneAggregate(card.agg);
    }
  }

  pruneIds(card: CardState): void {
    const lo = card.maxTs - this.dedupeHorizonMs;
    for (const [id, ts] of card.seen) if (ts < lo) card.seen.delete(id);
    for (const [id, at] of card.lateIds) if (at < lo) card.lateIds.delete(id);
  }

  // ---- serving -----------------------------------------------------------------------------

  /**
   * f(S, e) for an event that is not (yet) in the state, as online scoring needs it: the committed
   * aggregate plus the buffered events ordered before e. Equal to the vector the stream logs for
   * e when e arrives in order.
   *
   * A stored card state almost always has buffered events (its newest events stay in the reorder
   * buffer until the watermark passes them), so they are applied on every score request. By
   * default they go into a copy of the aggregate and `card` is left as it was. With `consume`,
   * the caller hands over a state it will not use again — online scoring, which reads a fresh
   * one per request — and they go into its aggregate in place, sparing the copy. The vector is
   * the same either way; a consumed state is left inconsistent (its buffered events counted in
   * the aggregate too) and must be dropped.
   */
  vectorFor(card: CardState | undefined, event: TimedEvent, merchant: MerchantState | undefined, options: { readonly consume?: boolean } = {}): number[] {
    const state = card ?? this.newCardState();
    const pe = this.prepare(event, this.newMerchantFlag(state, event.merchant_id, event.ts), this.merchantFeatures(merchant, event.ts));
    let agg = state.agg;
    let own = options.consume === true;
    for (const p of state.pending) {
      if (!keyBefore(p.ts, p.id, pe.ts, pe.id)) continue;
      if (!own) {
        agg = cloneAggregate(agg);
        own = true;
      }
      this.apply(agg, p);
    }
    return this.vector(agg, pe);
  }

  /** The entity-only features as of the card's newest event, every buffered event included. */
  currentFeatures(card: CardState): Record<string, number> {
    const agg = card.pending.length === 0 ? card.agg : cloneAggregate(card.agg);
    for (const p of card.pending) this.apply(agg, p);
    const probe: PendingEvent = {
      id: '\uffff', ts: Math.max(card.maxTs, 0), merchant: '', cents: 0, country: '', mcc: 0, channel: 0, localHour: 0, newMerchant: 0, merchantFeatures: [],
    };
    const values = this.vector(agg, probe);
    const out: Record<string, number> = {};
    this.featureSet.features.forEach((f, i) => {
      if (ENTITY_ONLY_KINDS.has(f.kind)) out[f.name] = values[i]!;
    });
    return out;
  }
}

function insertSorted(list: PendingEvent[], e: PendingEvent): void {
  let k = list.length;
  while (k > 0 && keyBefore(e.ts, e.id, list[k - 1]!.ts, list[k - 1]!.id)) k--;
  list.splice(k, 0, e);
}
