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
  type MerchantVisit,
  type PendingEvent,
} from './state';
import { STRIDE, I, TN, TS, TM, TQ, TZ, tileAt, dropBefore, firstTileFrom, isFull, type TileLevel } from './tile-level';

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

/** Fields of a window's aggregate in the memo (stride W). */
const N = 0, S = 1, M = 2, Q = 3, Z = 4, W = 5;

/**
 * Window sums below this are exact integers (every amount is whole cents), so they are the same
 * whatever order they were added and subtracted in: the memo may then slide a window instead of
 * re-summing it. Past it, floating-point order matters and windows are summed afresh.
 */
const EXACT = Number.MAX_SAFE_INTEGER;

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

/** A logged vector with the entity it belongs to: what the drivers emit. */
export interface EntityVector extends LoggedVector {
  readonly entityId: string;
}

/** The fields of an event the engine reads. */
export interface EventFields {
  readonly event_id: string;
  readonly entity_id: string;
  readonly merchant_id: string;
  readonly amount: number;
  readonly currency: string;
  readonly mcc: number;
  readonly country: string;
  readonly channel: string;
  readonly ts: number;
}

const keyBefore = (ts1: number, id1: string, ts2: number, id2: string): boolean => ts1 < ts2 || (ts1 === ts2 && id1 < id2);

const CHANNEL_CODES: readonly string[] = CHANNELS;


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
  /** Per level, the length of its longest window: what the memo's sums can reach back to. */
  private readonly levelSpan: number[];
  /** Per level, the length of its shortest window: how far the memo can slide in one step. */
  private readonly levelStep: number[];
  private readonly slots: Slot[];
  /** Memo layout (see CardAggregate.memo): per-level tile index, window sums, then the ring. */
  private readonly memoWindows: number;
  private readonly memoRing: number;
  private readonly memoSize: number;
  /** Hours the recent-merchant ring covers up to the newest visit (see "the ring"). */
  private readonly ringHours: number;
  private readonly merchantDefs: FeatureDefinition[];
  /** Per merchant feature, 1 for a count and 0 for a new-card share: merchantFeatures without a closure. */
  private readonly merchantIsCount: number[];
  private readonly merchantTileMs: number;
  private readonly merchantTiles: number;
  private readonly distinctHours: number;
  private readonly lookbackDays: number;
  /**
   * The merchant features an event's card half sees (logCard, ingestCard): zeros, shared and never
   * written; its merchant half puts the real ones into its vector (or an array of its own).
   */
  private readonly noMerchantFeatures: number[];
  /** Where a merchant half computes an event's merchant features before copying them out. */
  private readonly merchantScratch: number[];
  /** Positions of the merchant features in a vector. */
  private readonly merchantSlots: number[];
  /** vector()'s values as it computes them; each vector is a copy of them. */
  private readonly values: number[];
  /** The memo vectorFor() lends a state it computes one vector for. */
  private readonly scratchMemo: number[];
  /** The prepared form of the last event admit() accepted (or took late), for ingestCard()'s caller. */
  private admittedEvent: PendingEvent | undefined;
  /** True while a card half runs (ingestCard): each event it commits notes its vector's place (vectorAt). */
  private inCardHalf = false;

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
    this.levelSpan = this.levelWindows.map((wins) => wins[wins.length - 1]!.tiles);
    this.levelStep = this.levelWindows.map((wins) => wins[0]!.tiles);
    this.memoWindows = levels.length;
    this.memoRing = this.memoWindows + this.windows.size * W;
    let merchantSlot = 0;
    this.slots = featureSet.features.map((f): Slot => {
      const w = 'window' in f && this.windows.has(f.window) ? this.memoWindows + this.windows.get(f.window)!.index * W : 0;
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
    this.merchantIsCount = this.merchantDefs.map((f) => (f.kind === 'merchant_count' ? 1 : 0));
    this.merchantTileMs = merchantWindow?.tileMs ?? HOUR_MS;
    this.merchantTiles = merchantWindow ? merchantWindow.spanMs / merchantWindow.tileMs : 0;
    this.distinctHours = distinctWindow ? Math.ceil(distinctWindow.spanMs / HOUR_MS) : 0;
    // The distinct window and 8 hours of slack (for requests behind the newest visit, as late as
    // the lateness allows), rounded up to a power of two so that an hour's slot is a mask.
    this.ringHours = 2 ** Math.ceil(Math.log2(this.distinctHours + 8));
    this.memoSize = this.memoRing + (this.distinctHours > 0 ? 1 + this.ringHours : 0);
    this.lookbackDays = lookback;
    this.longestSpanMs = Math.max(DAY_MS, ...Object.values(featureSet.windows).map((w) => w.spanMs), lookback * DAY_MS);
    this.version = `${featureSet.name}.v${featureSet.version}`;
    this.merchantSlots = this.slots.flatMap((slot, i) => (slot.op === OP.merchant ? [i] : []));
    this.values = this.slots.map(() => Number.NaN);
    this.noMerchantFeatures = this.merchantIsCount.map(() => 0);
    this.scratchMemo = this.newMemo();
    this.merchantScratch = this.merchantIsCount.map(() => 0);
  }

  // ---- event preparation -------------------------------------------------------------------

  newCardState(): CardState {
    return emptyCardState(this.levels.length);
  }

  /** The event reduced to what the engine needs, plus the arrival-time (order-independent) parts. */
  prepare(e: EventFields, newMerchant: number, merchantFeatures: number[]): PendingEvent {
    return {
      id: e.event_id,
      ts: e.ts,
      merchant: e.merchant_id,
      cents: centsOf(e),
      country: e.country,
      mcc: e.mcc,
      channel: CHANNEL_CODES.indexOf(e.channel),
      localHour: localHourOf(e),
      newMerchant,
      merchantFeatures,
      vectorAt: -1,
    };
  }

  // ---- merchant side -----------------------------------------------------------------------

  /**
   * Merchant features over tiles that closed before (ts − lateness): every event in them arrived
   * before this one could (the lateness bound), so the value does not depend on arrival order.
   */
  merchantFeatures(m: MerchantState | undefined, ts: number): number[] {
    return this.merchantFeaturesInto(new Array<number>(this.merchantIsCount.length), m, ts);
  }

  private merchantFeaturesInto(out: number[], m: MerchantState | undefined, ts: number): number[] {
    let n = 0;
    let c = 0;
    if (m) {
      const hi = Math.floor((ts - this.allowedLatenessMs) / this.merchantTileMs); // exclusive
      if (m.memoHi === hi) {
        n = m.memoN!;
        c = m.memoC!;
      } else {
        const lo = hi - this.merchantTiles;
        const tiles = m.tiles;
        for (let k = tiles.length - 1; k >= 0; k--) {
          const t = tiles[k]!;
          if (t.i >= hi) continue;
          if (t.i < lo) break;
          n += t.n;
          c += t.c;
        }
        m.memoHi = hi;
        m.memoN = n;
        m.memoC = c;
      }
    }
    const isCount = this.merchantIsCount;
    for (let f = 0; f < isCount.length; f++) out[f] = isCount[f] === 1 ? n : n === 0 ? 0 : c / n;
    return out;
  }

  applyMerchant(m: MerchantState, ts: number, newCard: number): void {
    const i = Math.floor(ts / this.merchantTileMs);
    // A tile the memo's window may cover changes: the memo no longer holds (rare: only events
    // later than the lateness bound reach closed tiles).
    if (m.memoHi !== undefined && i < m.memoHi) m.memoHi = undefined;
    const tiles = m.tiles;
    let k = tiles.length - 1;
    while (k >= 0 && tiles[k]!.i > i) k--;
    if (k >= 0 && tiles[k]!.i === i) {
      tiles[k]!.n += 1;
      tiles[k]!.c += newCard;
    } else if (k === tiles.length - 1) {
      tiles.push({ i, n: 1, c: newCard });
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
    else return;
    // The memo's window may have reached the dropped tiles; a fresh sum no longer would.
    m.memoHi = undefined;
  }

  // ---- card side ---------------------------------------------------------------------------

  /**
   * 1 when the card paid this merchant on none of the look-back days before the day of
   * (ts − lateness): only events that must already have arrived decide it.
   */
  newMerchantFlag(card: CardState, merchant: string, ts: number): number {
    return this.newMerchantFlagOf(card.agg.merchants.get(merchant), card.pending, merchant, ts);
  }

  /** newMerchantFlag() given the card's visit to the merchant, for a caller that has it already. */
  private newMerchantFlagOf(v: MerchantVisit | undefined, pending: PendingEvent[], merchant: string, ts: number): number {
    if (this.lookbackDays === 0) return 0;
    const hi = Math.floor((ts - this.allowedLatenessMs) / DAY_MS); // exclusive
    const lo = hi - this.lookbackDays;
    if (v) for (const d of v.d) if (d >= lo && d < hi) return 0;
    for (const p of pending) {
      if (p.merchant !== merchant) continue;
      const d = Math.floor(p.ts / DAY_MS);
      if (d >= lo && d < hi) return 0;
    }
    return 1;
  }

  // ---- window sums: the memo -------------------------------------------------------------
  //
  // A card's memo holds, per tile level, the sums of each of its windows for one tile index `hc`.
  // Summing a window afresh reads every tile in it (a week of hour tiles for the busiest cards),
  // on every event; with the memo an event in the same tile as the card's previous one reads
  // nothing, and a later one only the tiles that leave or enter its windows. Sums stay exact
  // integers below EXACT, where any order of additions and subtractions gives the same bits as
  // the fresh sum, so the memo never changes a value; past it the level is summed afresh, as
  // before the memo existed. Every change to the tiles keeps the memo right or drops it (NaN).

  /** The card's window sums as of ts, in the memo (offsets memoWindows + window × W). */
  private windowsAt(agg: CardAggregate, ts: number): number[] {
    let memo = agg.memo;
    if (memo === undefined) agg.memo = memo = this.newMemo();
    for (let l = 0; l < this.levels.length; l++) {
      const hi = Math.floor(ts / this.levels[l]!.tileMs);
      const hc = memo[l]!;
      if (hc === hi) continue;
      if (!(hc < hi && this.slide(agg.levels[l]!, memo, l, hc, hi))) this.sumLevel(agg.levels[l]!, memo, l, hi);
    }
    return memo;
  }

  /** A memo as newMemo() builds it, over the old contents of `memo`. */
  private resetMemo(memo: number[]): number[] {
    for (let k = 0; k < this.memoSize; k++) memo[k] = k < this.memoWindows || k === this.memoRing ? Number.NaN : 0;
    return memo;
  }

  private newMemo(): number[] {
    // Filled in order from empty, NaN first: a packed array of unboxed numbers from the start.
    return this.resetMemo([]);
  }

  /** Sums every window of level l for tile index hi afresh: one backwards pass over its tiles. */
  private sumLevel(level: TileLevel, memo: number[], l: number, hi: number): void {
    const wins = this.levelWindows[l]!;
    const d = level.data;
    let n = 0, s = 0, m = 0, q = 0, z = 0;
    let wi = 0;
    let lo = hi - wins[0]!.tiles + 1;
    for (let o = (level.len - 1) * STRIDE; o >= 0 && wi < wins.length; o -= STRIDE) {
      const ti = d[o + I]!;
      if (ti > hi) continue;
      while (ti < lo) {
        // Crossing a window's far edge: it is complete, snapshot it and widen to the next one.
        const w = this.memoWindows + wins[wi]!.index * W;
        memo[w + N] = n; memo[w + S] = s; memo[w + M] = m; memo[w + Q] = q; memo[w + Z] = z;
        if (++wi === wins.length) break;
        lo = hi - wins[wi]!.tiles + 1;
      }
      if (wi === wins.length) break;
      n += d[o + TN]!; s += d[o + TS]!; q += d[o + TQ]!; z += d[o + TZ]!;
      if (d[o + TM]! > m) m = d[o + TM]!;
    }
    for (; wi < wins.length; wi++) {
      const o = this.memoWindows + wins[wi]!.index * W;
      memo[o + N] = n; memo[o + S] = s; memo[o + M] = m; memo[o + Q] = q; memo[o + Z] = z;
    }
    // The longest window holds the largest sums: if they are exact, so are all of the level's.
    const longest = this.memoWindows + wins[wins.length - 1]!.index * W;
    memo[l] = memo[longest + S]! <= EXACT && memo[longest + Q]! <= EXACT ? hi : Number.NaN;
  }

  /**
   * Moves level l's window sums from tile index hc to a later hi: subtracts the tiles that leave
   * each window and adds those that enter. False when it cannot (a leaving tile may hold a
   * window's maximum, or the move is as long as a window): the caller sums afresh.
   */
  private slide(level: TileLevel, memo: number[], l: number, hc: number, hi: number): boolean {
    // Shorter than every window: each tile entering lies inside it, each one leaving was in the memo.
    if (hi - hc >= this.levelStep[l]!) return false;
    const d = level.data;
    const end = level.len * STRIDE;
    // Entering: tiles in (hc, hi], at the end of the level.
    let en = 0, es = 0, em = 0, eq = 0, ez = 0;
    for (let o = end - STRIDE; o >= 0 && d[o + I]! > hc; o -= STRIDE) {
      if (d[o + I]! > hi) continue;
      en += d[o + TN]!; es += d[o + TS]!; eq += d[o + TQ]!; ez += d[o + TZ]!;
      if (d[o + TM]! > em) em = d[o + TM]!;
    }
    const wins = this.levelWindows[l]!;
    for (let wi = 0; wi < wins.length; wi++) {
      const tiles = wins[wi]!.tiles;
      const w = this.memoWindows + wins[wi]!.index * W;
      let n = memo[w + N]!, s = memo[w + S]!, m = memo[w + M]!, q = memo[w + Q]!, z = memo[w + Z]!;
      // Leaving: tiles in [hc − tiles + 1, hi − tiles].
      const last = hi - tiles;
      for (let o = firstTileFrom(level, hc - tiles + 1); o < end && d[o + I]! <= last; o += STRIDE) {
        if (d[o + TM]! >= m) return false;
        n -= d[o + TN]!; s -= d[o + TS]!; q -= d[o + TQ]!; z -= d[o + TZ]!;
      }
      n += en; s += es; q += eq; z += ez;
      if (em > m) m = em;
      if (!(s <= EXACT && q <= EXACT)) return false;
      memo[w + N] = n; memo[w + S] = s; memo[w + M] = m; memo[w + Q] = q; memo[w + Z] = z;
    }
    memo[l] = hi;
    return true;
  }

  /** An event added to tile i of level l: into the memo's windows that hold that tile. */
  private addToMemo(memo: number[], l: number, i: number, cents: number, night: number): void {
    const hc = memo[l]!;
    if (!(i <= hc)) return; // a later tile enters when the windows slide; NaN: no memo
    const wins = this.levelWindows[l]!;
    for (let wi = 0; wi < wins.length; wi++) {
      if (i < hc - wins[wi]!.tiles + 1) continue;
      const w = this.memoWindows + wins[wi]!.index * W;
      memo[w + N]! += 1;
      memo[w + S]! += cents;
      memo[w + Q]! += cents * cents;
      memo[w + Z]! += night;
      if (cents > memo[w + M]!) memo[w + M] = cents;
      if (!(memo[w + S]! <= EXACT && memo[w + Q]! <= EXACT)) memo[l] = Number.NaN;
    }
  }

  /** dropBefore(), dropping the memo of the level when its windows reached a dropped tile. */
  private dropTiles(agg: CardAggregate, l: number, lo: number): void {
    const memo = agg.memo;
    if (memo !== undefined && lo > memo[l]! - this.levelSpan[l]! + 1) memo[l] = Number.NaN;
    dropBefore(agg.levels[l]!, lo);
  }

  // ---- distinct merchants: the ring ------------------------------------------------------
  //
  // The memo's ring counts, for each of the ringHours hours up to the newest merchant visit
  // (`top`), the merchants whose latest visit is in that hour: the distinct-merchant window is
  // then a sum of at most distinctHours counts instead of a pass over every merchant the card
  // paid in the look-back. Counts are integers, so the value is the pass's exactly.

  /** Merchants whose latest visit hour is in the window ending at ts's hour. */
  private distinctAt(agg: CardAggregate, memo: number[], ts: number): number {
    const r = this.memoRing;
    if (Number.isNaN(memo[r]!)) this.buildRing(agg, memo);
    const hi = Math.floor(ts / HOUR_MS);
    const lo = hi - this.distinctHours + 1;
    const top = memo[r]!;
    // A window starting before the ring (a request well behind the card's newest events): count by hand.
    if (lo <= top - this.ringHours) return this.distinctMerchants(agg, ts);
    let n = 0;
    const end = Math.min(hi, top);
    for (let h = lo; h <= end; h++) n += memo[r + 1 + (h & (this.ringHours - 1))]!;
    return n;
  }

  private buildRing(agg: CardAggregate, memo: number[]): void {
    const r = this.memoRing;
    let top = Number.NEGATIVE_INFINITY;
    for (const v of agg.merchants.values()) if (v.h > top) top = v.h;
    memo.fill(0, r + 1, r + 1 + this.ringHours);
    memo[r] = top;
    for (const v of agg.merchants.values()) if (v.h > top - this.ringHours) memo[r + 1 + (v.h & (this.ringHours - 1))]! += 1;
  }

  /** The memo when it holds a built ring (which must then follow every visit change), else undefined. */
  private liveRing(memo: number[] | undefined): number[] | undefined {
    return memo !== undefined && this.distinctHours > 0 && !Number.isNaN(memo[this.memoRing]!) ? memo : undefined;
  }

  /** A merchant's latest visit hour enters the ring (advancing it when newer than all). */
  private ringAdd(memo: number[], h: number): void {
    const r = this.memoRing;
    let top = memo[r]!;
    if (h > top) {
      // Hours (top, h] start empty; past ringHours of them, the whole ring does.
      if (h - top >= this.ringHours) memo.fill(0, r + 1, r + 1 + this.ringHours);
      else for (let x = top + 1; x <= h; x++) memo[r + 1 + (x & (this.ringHours - 1))] = 0;
      memo[r] = top = h;
    }
    if (h > top - this.ringHours) memo[r + 1 + (h & (this.ringHours - 1))]! += 1;
  }

  private ringRemove(memo: number[], h: number): void {
    const r = this.memoRing;
    const top = memo[r]!;
    if (h > top - this.ringHours && h <= top) memo[r + 1 + (h & (this.ringHours - 1))]! -= 1;
  }

  /** f(S, e): the full vector of an event against the aggregate of everything ordered before it. */
  vector(agg: CardAggregate, e: PendingEvent): number[] {
    const w = this.windowsAt(agg, e.ts);
    const slots = this.slots;
    const out = this.values;
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
        case OP.distinct: v = this.distinctAt(agg, w, e.ts); break;
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
      out[i] = v;
    }
    return out.slice();
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
    this.applyVisit(agg, e, agg.merchants.get(e.merchant));
  }

  /** apply() given the card's visit to e's merchant (undefined: none yet). */
  private applyVisit(agg: CardAggregate, e: PendingEvent, visit: MerchantVisit | undefined): void {
    const night = e.localHour < 6 ? 1 : 0;
    const memo = agg.memo;
    for (let l = 0; l < this.levels.length; l++) {
      const i = Math.floor(e.ts / this.levels[l]!.tileMs);
      const level = agg.levels[l]!;
      if (isFull(level) && agg.last >= 0) {
        // Full: drop what no window reaches before growing (the same canonical rule as pruneAggregate).
        this.dropTiles(agg, l, Math.floor(agg.last / this.levels[l]!.tileMs) - this.levels[l]!.keep);
      }
      const o = tileAt(level, i);
      const d = level.data;
      d[o + TN]! += 1;
      d[o + TS]! += e.cents;
      d[o + TQ]! += e.cents * e.cents;
      d[o + TZ]! += night;
      if (e.cents > d[o + TM]!) d[o + TM] = e.cents;
      if (memo !== undefined) this.addToMemo(memo, l, i, e.cents, night);
    }
    const h = Math.floor(e.ts / HOUR_MS);
    const d = Math.floor(e.ts / DAY_MS);
    // The ring follows every change to a merchant's latest hour, once it exists.
    const ring = this.liveRing(memo);
    if (!visit) {
      agg.merchants.set(e.merchant, { h, d: [d] });
      if (ring) this.ringAdd(ring, h);
    } else {
      if (h > visit.h) {
        if (ring) {
          this.ringRemove(ring, visit.h);
          this.ringAdd(ring, h);
        }
        visit.h = h;
      }
      const lastDay = visit.d[visit.d.length - 1]!;
      if (d > lastDay) visit.d.push(d);
      else if (d !== lastDay && !visit.d.includes(d)) {
        visit.d.push(d);
        visit.d.sort((a, b) => a - b);
      }
    }
    // The home country's count is homeN: the usual event, at home, spares a lookup.
    const cn = (e.country === agg.home ? agg.homeN : (agg.countries.get(e.country) ?? 0)) + 1;
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
    this.levels.forEach((level, l) => this.dropTiles(agg, l, Math.floor(agg.last / level.tileMs) - level.keep));
    const dayLo = Math.floor(agg.last / DAY_MS) - this.lookbackDays - 2;
    const hourLo = Math.floor(agg.last / HOUR_MS) - this.distinctHours - 1;
    const ring = this.liveRing(agg.memo);
    for (const [m, v] of agg.merchants) {
      if (v.d[0] !== undefined && v.d[0] < dayLo) v.d = v.d.filter((d) => d >= dayLo);
      if (v.d.length === 0 && v.h < hourLo) {
        agg.merchants.delete(m);
        if (ring) this.ringRemove(ring, v.h);
      }
    }
  }

  // ---- batch driver ------------------------------------------------------------------------

  // The batch driver's step for an event ordered after everything in its card's state comes in
  // two halves: the card's, then the merchant's. A vector reads merchants only through its
  // merchant features, and merchants change only in merchant halves, so the driver may take the
  // card halves card by card and the merchant halves in log order: the same operations on each
  // state, in the same order, as taking each event whole.

  /**
   * An event as the batch halves take it: prepare()d, its new-merchant flag set by logCard() and
   * its merchant features by logMerchant() (until then it shares an array of zeros).
   */
  prepareForBatch(e: EventFields): PendingEvent {
    return this.prepare(e, 0, this.noMerchantFeatures);
  }

  /**
   * The card half: f(S, e) with its merchant features still to come, then S ← S + e for the
   * card. Returns the vector, and sets the event's new-merchant flag.
   */
  logCard(card: CardState, e: PendingEvent): number[] {
    // One lookup of the card's visit to the merchant serves the flag and the update.
    const visit = card.agg.merchants.get(e.merchant);
    e.newMerchant = this.newMerchantFlagOf(visit, card.pending, e.merchant, e.ts);
    const values = this.vector(card.agg, e);
    this.applyVisit(card.agg, e, visit);
    return values;
  }

  /** The merchant half: the event's merchant features into its vector, then the merchant absorbs it. */
  logMerchant(values: number[], merchant: MerchantState, e: PendingEvent): void {
    this.intoVector(values, this.merchantFeaturesInto(this.merchantScratch, merchant, e.ts));
    this.applyMerchant(merchant, e.ts, e.newMerchant);
  }

  /** Merchant features (merchantFeatures' order) into their places in a vector. */
  private intoVector(values: number[], features: readonly number[]): void {
    const at = this.merchantSlots;
    for (let k = 0; k < at.length; k++) values[at[k]!] = features[this.slots[at[k]!]!.arg] ?? 0;
  }

  // ---- incremental driver ------------------------------------------------------------------

  /**
   * The stream's step for one event. Events wait in a per-entity reorder buffer until the entity's
   * watermark (newest event time − allowed lateness) passes them; they then commit in
   * (event time, id) order, each logging f(S, e) before S absorbs it. The result equals the batch
   * driver's over the sorted history whenever arrival disorder stays within the allowed lateness.
   */
  ingest(card: CardState, event: TimedEvent, merchant: MerchantState | undefined): IngestResult {
    const committed: EntityVector[] = [];
    const status = this.admit(card, event, merchant, false, committed);
    // A duplicate changed nothing, so its flag is the one the state gives now.
    const newMerchant =
      status === 'duplicate' ? this.newMerchantFlag(card, event.merchant_id, event.ts) : status === 'too_late' ? 0 : this.admittedPending().newMerchant;
    return { status, newMerchant, committed };
  }

  /**
   * ingest() for the in-memory driver, without its result objects: the committed vectors go onto
   * `out`, and an accepted or late event goes into `merchant` too.
   */
  ingestInto(card: CardState, event: EventFields, merchant: MerchantState, out: EntityVector[]): IngestStatus {
    const status = this.admit(card, event, merchant, false, out);
    if (status === 'accepted' || status === 'late') this.applyMerchant(merchant, event.ts, this.admittedPending().newMerchant);
    return status;
  }

  // The stream's step also comes in two halves, for the same reason as the batch driver's: an
  // event's merchant features are fixed at its arrival from its merchant's state, which only the
  // merchant halves change, and the card half reads them only to copy them into vectors. So a
  // driver holding many events may take the card halves card by card (each card's events in
  // arrival order), then the merchant halves in arrival order, then copy each event's merchant
  // features into the vectors committed meanwhile: the same operations on each state in the same
  // order as ingest() event by event, with each card's state in cache across its events.

  /**
   * The card half of ingestInto(): the event's merchant features stay zeros until
   * ingestMerchant(). Committed vectors go onto `out` (the pass's list: each committed event
   * notes its vector's index there); an accepted or late event's prepared form is then
   * admittedPending().
   */
  ingestCard(card: CardState, event: EventFields, out: EntityVector[]): IngestStatus {
    this.inCardHalf = true;
    try {
      return this.admit(card, event, undefined, true, out);
    } finally {
      this.inCardHalf = false;
    }
  }

  /** The prepared form of the event the last ingest, ingestInto or ingestCard accepted or took late. */
  admittedPending(): PendingEvent {
    const pe = this.admittedEvent;
    if (pe === undefined) throw new Error('admittedPending(): no event was admitted');
    return pe;
  }

  /**
   * The merchant half: the event's merchant features as of its arrival, then the merchant absorbs
   * it. An event the card half already committed gets them in its vector (at its vectorAt in
   * the pass's `vectors`); one still waiting gets an array of its own, in place of the engine's zeros.
   */
  ingestMerchant(pe: PendingEvent, merchant: MerchantState, vectors: readonly EntityVector[]): void {
    const features = this.merchantFeaturesInto(this.merchantScratch, merchant, pe.ts);
    if (pe.vectorAt >= 0) this.intoVector(vectors[pe.vectorAt]!.values, features);
    else pe.merchantFeatures = features.slice();
    this.applyMerchant(merchant, pe.ts, pe.newMerchant);
  }

  /**
   * ingest()'s state change; leaves an accepted or late event's prepared form (with its
   * new-merchant flag) in admittedEvent. With `deferMerchant`, the merchant
   * features are left as zeros for ingestMerchant() to fill.
   */
  private admit(card: CardState, event: EventFields, merchant: MerchantState | undefined, deferMerchant: boolean, out: EntityVector[]): IngestStatus {
    const id = event.event_id;
    // A duplicate carries its original's event time (see SeenIds), which is at most maxTs: an
    // event newer than every accepted one (the usual case) needs no lookup.
    if (event.ts <= card.maxTs && (card.seen.has(id, event.ts) || (card.lateIds.size > 0 && card.lateIds.has(id)))) return 'duplicate';
    if (card.maxTs >= 0 && event.ts < card.maxTs - this.longestSpanMs) return 'too_late';
    const newMerchant = this.newMerchantFlag(card, event.merchant_id, event.ts);
    const pe = this.prepare(event, newMerchant, deferMerchant ? this.noMerchantFeatures : this.merchantFeatures(merchant, event.ts));
    this.admittedEvent = pe;
    const agg = card.agg;
    if (agg.last >= 0 && keyBefore(pe.ts, pe.id, agg.last, agg.lastId)) {
      // Behind the commit frontier: place it in its windows now; its own vector saw later events.
      const values = this.vector(agg, pe);
      this.apply(agg, pe);
      if (pe.ts >= card.maxTs - this.dedupeHorizonMs) card.seen.add(id, pe.ts);
      else card.lateIds.set(id, card.maxTs);
      out.push({ entityId: event.entity_id, eventId: id, ts: pe.ts, values, late: true });
      if (this.inCardHalf) pe.vectorAt = out.length - 1;
      return 'late';
    }
    insertSorted(card.pending, pe);
    card.seen.add(id, pe.ts);
    if (pe.ts > card.maxTs) card.maxTs = pe.ts;
    this.commitUpTo(card, card.maxTs - this.allowedLatenessMs, event.entity_id, out);
    this.pruneCard(card);
    return 'accepted';
  }

  /**
   * Commits every pending event — what a drained stream with a final watermark does. The state
   * does not know its entity's id: `entityId` is what the vectors are labelled with.
   */
  flush(card: CardState, entityId = ''): EntityVector[] {
    const out: EntityVector[] = [];
    this.commitUpTo(card, Number.POSITIVE_INFINITY, entityId, out);
    this.pruneCard(card);
    return out;
  }

  private commitUpTo(card: CardState, watermark: number, entityId: string, out: EntityVector[]): void {
    const p = card.pending;
    let k = 0;
    while (k < p.length && (p[k]!.ts < watermark || p.length - k > this.maxPending)) {
      const e = p[k++]!;
      out.push({ entityId, eventId: e.id, ts: e.ts, values: this.vector(card.agg, e), late: false });
      if (this.inCardHalf) e.vectorAt = out.length - 1;
      this.apply(card.agg, e);
    }
    // Usually one event commits per event that arrives: shift() spares splice()'s removed-items array.
    if (k === 1) p.shift();
    else if (k > 1) p.splice(0, k);
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
    card.seen.dropBefore(lo);
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
    if (!own || agg.memo !== undefined) return this.vector(agg, pe);
    // A state of the caller's to use once (a score request's, just read): its memo would be built
    // for a single vector and dropped with it, so it borrows the engine's (reset) for that vector.
    agg.memo = this.resetMemo(this.scratchMemo);
    try {
      return this.vector(agg, pe);
    } finally {
      agg.memo = undefined;
    }
  }

  /** The entity-only features as of the card's newest event, every buffered event included. */
  currentFeatures(card: CardState): Record<string, number> {
    const agg = card.pending.length === 0 ? card.agg : cloneAggregate(card.agg);
    for (const p of card.pending) this.apply(agg, p);
    const probe: PendingEvent = {
      id: '\uffff', ts: Math.max(card.maxTs, 0), merchant: '', cents: 0, country: '', mcc: 0, channel: 0, localHour: 0, newMerchant: 0, merchantFeatures: [], vectorAt: -1,
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
  if (k === list.length) list.push(e);
  else list.splice(k, 0, e);
}

/** USD cents of the event's amount at the reference rate. */
function centsOf(e: EventFields): number {
  return Math.round(e.amount * usdPerUnit(e.currency) * 100);
}

/** The hour of day at the event's country, 0–23. */
function localHourOf(e: EventFields): number {
  const offset = utcOffsetHours(e.country);
  return Math.floor((((e.ts / HOUR_MS + offset) % 24) + 24) % 24);
}

