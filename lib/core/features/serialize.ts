// Canonical JSON form of entity states, as stored in the online store's `state` attribute.
// Canonical (pruned, sorted, fixed field order) so two states with the same content serialise to
// the same bytes: the parity and reliability tests compare states as strings.
import { SeenIds } from './seen-ids';
import { ValidationError } from '../errors';
import type { FeatureEngine } from './engine';
import { merchantState, type CardAggregate, type CardState, type MerchantState, type MerchantVisit, type PendingEvent } from './state';
import { STRIDE, levelToTuples, storedLevel, type TileLevel } from './tile-level';

const STATE_SCHEMA_VERSION = 1;

// Reading a stored state is on the scoring path of every request, and the stored text is written
// only by serializeCard / serializeMerchant below: it is internal state, not input at an edge
// (DESIGN principle 4 puts zod there). A zod pass over it cost more than half the request, so the
// readers below check the same structure by hand, in one pass that also builds the state:
// exactly the shape the canonical writer produces — the same acceptance as the zod schemas they
// replace, which test/unit/serialize.test.ts keeps as the oracle. A corrupt or foreign item is
// still refused with a ValidationError naming the field (`state.lv.1.3.2`), never turned into
// a silently wrong vector or a crash further down.

type Json = unknown;

/** What a value is, for an error message. */
function kindOf(x: Json): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : typeof x;
}

/** Paths are built only here, on failure: reading a valid state builds no path strings. */
function refuse(field: string, expected: string, got: Json): never {
  throw new ValidationError(`${field}: expected ${expected}, got ${kindOf(got)}`, field);
}

/** `base`, `base.k` or `base.k.j`. */
const pathOf = (base: string, k?: number, j?: number): string => (k === undefined ? base : j === undefined ? `${base}.${k}` : `${base}.${k}.${j}`);

const finite = (x: Json): x is number => typeof x === 'number' && Number.isFinite(x);

function objectAt(x: Json, field: string): Record<string, Json> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) refuse(field, 'an object', x);
  return x as Record<string, Json>;
}

function arrayAt(x: Json, base: string, k?: number, j?: number): readonly Json[] {
  if (!Array.isArray(x)) refuse(pathOf(base, k, j), 'an array', x);
  return x;
}

function stringAt(x: Json, base: string, k?: number, j?: number): string {
  if (typeof x !== 'string') refuse(pathOf(base, k, j), 'a string', x);
  return x;
}

function numberAt(x: Json, base: string, k?: number, j?: number): number {
  if (!finite(x)) refuse(pathOf(base, k, j), 'a finite number', x);
  return x;
}

/** A tuple of exactly `n` entries (the arrays the canonical writer emits have fixed lengths). */
function tupleAt(x: Json, n: number, base: string, k?: number, j?: number): readonly Json[] {
  if (!Array.isArray(x)) refuse(pathOf(base, k, j), 'an array', x);
  if (x.length !== n) {
    const field = pathOf(base, k, j);
    throw new ValidationError(`${field}: expected ${n} values, got ${x.length}`, field);
  }
  return x;
}

function schemaVersionAt(x: Json, field: string): void {
  if (x !== STATE_SCHEMA_VERSION) throw new ValidationError(`${field}: expected ${STATE_SCHEMA_VERSION}, got ${typeof x === 'number' ? x : kindOf(x)}`, field);
}

/** `[[key, number], …]` as a Map, in stored order. */
function numberMapAt(x: Json, field: string): Map<string, number> {
  const list = arrayAt(x, field);
  const out = new Map<string, number>();
  for (let k = 0; k < list.length; k++) {
    const t = tupleAt(list[k], 2, field, k);
    out.set(stringAt(t[0], field, k, 0), numberAt(t[1], field, k, 1));
  }
  return out;
}

/** The tile levels: per level `[[index, count, sum, max, sum of squares, night], …]`, straight into its flat array. */
function levelsAt(x: Json): TileLevel[] {
  const lv = arrayAt(x, 'state.lv');
  const levels: TileLevel[] = [];
  for (let l = 0; l < lv.length; l++) {
    const tuples = arrayAt(lv[l], 'state.lv', l);
    const d: number[] = [];
    for (let k = 0; k < tuples.length; k++) {
      const t = tupleAt(tuples[k], STRIDE, 'state.lv', l, k);
      for (let j = 0; j < STRIDE; j++) {
        const v = t[j];
        if (!finite(v)) refuse(`state.lv.${l}.${k}.${j}`, 'a finite number', v);
        d.push(v);
      }
    }
    levels.push(storedLevel(d, tuples.length));
  }
  return levels;
}

/** `[[merchant, hour, day, day, …], …]`: the merchant, its latest hour tile, then its days. */
function visitsAt(x: Json): Map<string, MerchantVisit> {
  const list = arrayAt(x, 'state.mv');
  const out = new Map<string, MerchantVisit>();
  for (let k = 0; k < list.length; k++) {
    const t = arrayAt(list[k], 'state.mv', k);
    const m = stringAt(t[0], 'state.mv', k, 0);
    const h = numberAt(t[1], 'state.mv', k, 1);
    for (let j = 2; j < t.length; j++) numberAt(t[j], 'state.mv', k, j);
    // Checked above to be numbers; the parsed array is this state's own, sliced as the days.
    out.set(m, { h, d: t.slice(2) as number[] });
  }
  return out;
}

/** `[[id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, [merchant features]], …]`. */
function pendingAt(x: Json): PendingEvent[] {
  const list = arrayAt(x, 'state.p');
  const out: PendingEvent[] = [];
  for (let k = 0; k < list.length; k++) {
    const t = tupleAt(list[k], 10, 'state.p', k);
    const id = stringAt(t[0], 'state.p', k, 0);
    const ts = numberAt(t[1], 'state.p', k, 1);
    const merchant = stringAt(t[2], 'state.p', k, 2);
    const cents = numberAt(t[3], 'state.p', k, 3);
    const country = stringAt(t[4], 'state.p', k, 4);
    const mcc = numberAt(t[5], 'state.p', k, 5);
    const channel = numberAt(t[6], 'state.p', k, 6);
    const localHour = numberAt(t[7], 'state.p', k, 7);
    const newMerchant = numberAt(t[8], 'state.p', k, 8);
    const features = arrayAt(t[9], 'state.p', k, 9);
    for (let j = 0; j < features.length; j++) if (!finite(features[j])) refuse(`state.p.${k}.9.${j}`, 'a finite number', features[j]);
    // Checked above to be numbers; the freshly parsed array is this state's own.
    const merchantFeatures = features as number[];
    out.push({ id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, merchantFeatures, vectorAt: -1 });
  }
  return out;
}

const byKey = <T>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export function serializeCard(engine: FeatureEngine, s: CardState): string {
  engine.pruneAggregate(s.agg);
  engine.pruneIds(s);
  const a = s.agg;
  return JSON.stringify({
    v: STATE_SCHEMA_VERSION,
    fs: engine.version,
    last: a.last,
    lastId: a.lastId,
    max: s.maxTs,
    lv: a.levels.map(levelToTuples),
    mv: [...a.merchants].sort(byKey).map(([m, v]) => [m, v.h, ...v.d]),
    co: [...a.countries].sort(byKey),
    p: s.pending.map((e) => [e.id, e.ts, e.merchant, e.cents, e.country, e.mcc, e.channel, e.localHour, e.newMerchant, e.merchantFeatures]),
    seen: [...s.seen].sort(byKey),
    late: [...s.lateIds].sort(byKey),
  });
}

/** The number of tile levels the engine's card states have, asked of it once per engine. */
const levelCounts = new WeakMap<FeatureEngine, number>();
function tileLevelCount(engine: FeatureEngine): number {
  let n = levelCounts.get(engine);
  if (n === undefined) {
    n = engine.newCardState().agg.levels.length;
    levelCounts.set(engine, n);
  }
  return n;
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(`${field} is not valid JSON`, field);
  }
}

/**
 * Parses a stored card state; refuses another feature-set version rather than mixing semantics.
 * @throws ValidationError naming the field (`state.…`) of a corrupt or foreign state.
 */
export function deserializeCard(engine: FeatureEngine, text: string): CardState {
  return canonicalCard(engine, text) ?? validatedCard(engine, text);
}

/** The validating reader: any JSON text, refused naming the field when it is not a state. */
function validatedCard(engine: FeatureEngine, text: string): CardState {
  const j = objectAt(parseJson(text, 'state'), 'state');
  // Checked in the order the canonical writer emits the fields, so a state that is wrong in one
  // place is refused naming that place.
  schemaVersionAt(j['v'], 'state.v');
  const fs = stringAt(j['fs'], 'state.fs');
  const last = numberAt(j['last'], 'state.last');
  const lastId = stringAt(j['lastId'], 'state.lastId');
  const maxTs = numberAt(j['max'], 'state.max');
  const levels = levelsAt(j['lv']);
  const merchants = visitsAt(j['mv']);
  const countries = numberMapAt(j['co'], 'state.co');
  const pending = pendingAt(j['p']);
  const seen = numberMapAt(j['seen'], 'state.seen');
  const lateIds = numberMapAt(j['late'], 'state.late');

  if (fs !== engine.version) throw new ValidationError(`state was written by feature set ${fs}, engine is ${engine.version}`, 'state.fs');
  if (levels.length !== tileLevelCount(engine)) throw new ValidationError('state has a different tile layout', 'state.lv');
  return cardState(last, lastId, levels, merchants, countries, pending, maxTs, seen, lateIds);
}

/** A card state from its read fields: both readers end here, so both build the same objects. */
function cardState(
  last: number,
  lastId: string,
  levels: TileLevel[],
  merchants: Map<string, MerchantVisit>,
  countries: Map<string, number>,
  pending: PendingEvent[],
  maxTs: number,
  seen: Map<string, number>,
  lateIds: Map<string, number>,
): CardState {
  // Built directly rather than by filling engine.newCardState(): its empty tile levels would be
  // allocated only to be replaced. Same fields in the same order as emptyCardState, so the
  // objects share its shape; no memo, which the engine builds when it first needs one.
  const agg: CardAggregate = { last, lastId, levels, merchants, countries, home: '', homeN: 0, memo: undefined };
  for (const [c, n] of countries) {
    if (n > agg.homeN || (n === agg.homeN && c < agg.home)) {
      agg.home = c;
      agg.homeN = n;
    }
  }
  return { agg, pending, maxTs, seen: SeenIds.from(seen), lateIds };
}

export function serializeMerchant(engine: FeatureEngine, m: MerchantState): string {
  engine.pruneMerchant(m);
  return JSON.stringify({ v: STATE_SCHEMA_VERSION, fs: engine.version, max: m.maxTs, t: m.tiles.map((t) => [t.i, t.n, t.c]) });
}

/** @throws ValidationError naming the field (`state.…`) of a corrupt or foreign state. */
export function deserializeMerchant(engine: FeatureEngine, text: string): MerchantState {
  return canonicalMerchant(engine, text) ?? validatedMerchant(engine, text);
}

function validatedMerchant(engine: FeatureEngine, text: string): MerchantState {
  const j = objectAt(parseJson(text, 'state'), 'state');
  schemaVersionAt(j['v'], 'state.v');
  const fs = stringAt(j['fs'], 'state.fs');
  const maxTs = numberAt(j['max'], 'state.max');
  const list = arrayAt(j['t'], 'state.t');
  const tiles: MerchantState['tiles'] = [];
  for (let k = 0; k < list.length; k++) {
    const t = tupleAt(list[k], 3, 'state.t', k);
    tiles.push({ i: numberAt(t[0], 'state.t', k, 0), n: numberAt(t[1], 'state.t', k, 1), c: numberAt(t[2], 'state.t', k, 2) });
  }
  if (fs !== engine.version) throw new ValidationError(`state was written by feature set ${fs}, engine is ${engine.version}`, 'state.fs');
  return merchantState(tiles, maxTs);
}

// ---- the canonical readers -------------------------------------------------------------------
//
// Hand-written because of what it costs: a stored card state is ~1.4 kB, mostly tile tuples, and
// JSON.parse turns it into some seventy small arrays only for the validating reader to copy their
// numbers out again — the larger part of a score request's own work, and garbage that evicts
// onnxruntime's trees from the caches before the model runs. These readers scan the text once and
// build the state straight from it, but only text laid out exactly as serializeCard /
// serializeMerchant write it: their keys in their order, no whitespace, strings without escapes,
// numbers as JSON writes them. Anything else — whitespace, another key order, an escape, a value
// of the wrong type, a non-finite number, another feature set or tile layout, a truncated text —
// makes them give up (`undefined`) and the validating reader above reads the text instead, so
// what is accepted, what it becomes and how a bad state is refused (the ValidationError naming
// the field) are the validating reader's, by construction. test/unit/serialize.test.ts holds
// the two to the same results on real and corrupted states.

/** Thrown inside a canonical reader when the text leaves the canonical layout; never escapes this file. */
class NotCanonical extends Error {}
const NOT_CANONICAL = new NotCanonical('not in the canonical layout');
/** How every canonical state text starts; the feature set's name follows. */
const CANONICAL_HEAD = `{"v":${STATE_SCHEMA_VERSION},"fs":`;

const QUOTE = 34, COMMA = 44, MINUS = 45, DOT = 46, ZERO = 48, NINE = 57, OPEN = 91, BACKSLASH = 92, CLOSE = 93, E_UPPER = 69, E_LOWER = 101, PLUS = 43;

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

/** A cursor over one state text; every read either consumes what it expects or throws NOT_CANONICAL. */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  /** Consumes `lit` (punctuation and keys), exactly. */
  lit(lit: string): void {
    if (!this.s.startsWith(lit, this.i)) throw NOT_CANONICAL;
    this.i += lit.length;
  }

  /** Consumes the character `c`. */
  ch(c: number): void {
    if (this.s.charCodeAt(this.i) !== c) throw NOT_CANONICAL;
    this.i++;
  }

  /** Consumes the character `c` if it is next. */
  eat(c: number): boolean {
    if (this.s.charCodeAt(this.i) !== c) return false;
    this.i++;
    return true;
  }

  /**
   * The elements of a list whose `[` was just consumed, each read by `element`, up to and
   * including its `]`.
   */
  rest(element: () => void): void {
    if (this.eat(CLOSE)) return;
    do element();
    while (this.eat(COMMA));
    this.ch(CLOSE);
  }

  /** The end of the text. */
  end(): void {
    if (this.i !== this.s.length) throw NOT_CANONICAL;
  }

  /** A string without escapes or control characters (what JSON.parse would give, as a slice). */
  str(): string {
    const s = this.s;
    let i = this.i;
    if (s.charCodeAt(i) !== QUOTE) throw NOT_CANONICAL;
    const start = ++i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) break;
      // An escape, a control character (JSON refuses them raw) or the end of the text (NaN).
      if (c === BACKSLASH || c < 0x20 || c !== c) throw NOT_CANONICAL;
      i++;
    }
    this.i = i + 1;
    return s.slice(start, i);
  }

  /**
   * A finite number in JSON's grammar, with JSON.parse's value: an integer of up to 15 digits is
   * summed digit by digit (exact: below 2^53); anything else is checked against the grammar and
   * handed to Number(), which rounds a JSON number text exactly as JSON.parse does.
   */
  num(): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    let c = s.charCodeAt(i);
    const negative = c === MINUS;
    if (negative) c = s.charCodeAt(++i);
    const first = i;
    let v = 0;
    if (c === ZERO) c = s.charCodeAt(++i);
    else if (c > ZERO && c <= NINE) {
      do {
        v = v * 10 + (c - ZERO);
        c = s.charCodeAt(++i);
      } while (isDigit(c));
    } else throw NOT_CANONICAL;
    // A digit after a leading 0 is not JSON; it is left for the caller's next expectation to refuse.
    if (c !== DOT && c !== E_LOWER && c !== E_UPPER && i - first <= 15) {
      this.i = i;
      return negative ? -v : v;
    }
    if (c === DOT) {
      c = s.charCodeAt(++i);
      if (!isDigit(c)) throw NOT_CANONICAL;
      do c = s.charCodeAt(++i);
      while (isDigit(c));
    }
    if (c === E_LOWER || c === E_UPPER) {
      c = s.charCodeAt(++i);
      if (c === PLUS || c === MINUS) c = s.charCodeAt(++i);
      if (!isDigit(c)) throw NOT_CANONICAL;
      do c = s.charCodeAt(++i);
      while (isDigit(c));
    }
    const x = Number(s.slice(start, i));
    if (!Number.isFinite(x)) throw NOT_CANONICAL;
    this.i = i;
    return x;
  }

  /** `[[key, number], …]` as a Map, in text order. */
  numberMap(): Map<string, number> {
    const out = new Map<string, number>();
    this.ch(OPEN);
    if (this.eat(CLOSE)) return out;
    do {
      this.ch(OPEN);
      const k = this.str();
      this.ch(COMMA);
      out.set(k, this.num());
      this.ch(CLOSE);
    } while (this.eat(COMMA));
    this.ch(CLOSE);
    return out;
  }

  /** `[number, …]`. */
  numbers(): number[] {
    const out: number[] = [];
    this.ch(OPEN);
    if (this.eat(CLOSE)) return out;
    do out.push(this.num());
    while (this.eat(COMMA));
    this.ch(CLOSE);
    return out;
  }
}

/**
 * Where canonicalLevel collects a level's numbers before it knows how many there are: the level's
 * own array is then one exact-size copy (slice) rather than a series of pushes that grow it, and
 * leave the grown-out copies behind as garbage, several times over. Starts as a double array and
 * stays one (stores of small integers into it keep it so), so every copy is a packed double array.
 * Only ever read between a write and the slice that follows it, within one synchronous call.
 */
const levelScratch: number[] = [0.5];

/**
 * One tile level, `[[index, count, sum, max, sum of squares, night], …]`, as levelsAt builds it.
 * The tuples are most of a card state's text, so this loop reads them with the cursor in a local
 * and integers summed inline; any other number goes through Scanner.num, and any other character
 * than the layout's makes the read give up like every other step.
 */
function canonicalLevel(r: Scanner): TileLevel {
  const s = r.s;
  let i = r.i;
  const d = levelScratch;
  let n = 0;
  if (s.charCodeAt(i++) !== OPEN) throw NOT_CANONICAL;
  if (s.charCodeAt(i) === CLOSE) i++;
  else {
    for (;;) {
      if (s.charCodeAt(i++) !== OPEN) throw NOT_CANONICAL;
      for (let j = 0; j < STRIDE; j++) {
        if (j > 0 && s.charCodeAt(i++) !== COMMA) throw NOT_CANONICAL;
        const start = i;
        let c = s.charCodeAt(i);
        let v = 0;
        if (c > ZERO && c <= NINE) {
          do {
            v = v * 10 + (c - ZERO);
            c = s.charCodeAt(++i);
          } while (isDigit(c));
        } else if (c === ZERO) c = s.charCodeAt(++i);
        else c = NaN;
        // Anything but a plain non-negative integer of up to 15 digits (a sign, a fraction, an
        // exponent, a long one): read again from its start by the general reader. (A digit after
        // a leading 0 is left for the next expectation to refuse, as in Scanner.num.)
        if (c === DOT || c === E_LOWER || c === E_UPPER || c !== c || i - start > 15) {
          r.i = start;
          v = r.num();
          i = r.i;
        }
        // Stores at n ≤ d.length: an overwrite, or an append at the end (the array stays packed).
        d[n++] = v;
      }
      if (s.charCodeAt(i++) !== CLOSE) throw NOT_CANONICAL;
      const c = s.charCodeAt(i++);
      if (c === CLOSE) break;
      if (c !== COMMA) throw NOT_CANONICAL;
    }
  }
  r.i = i;
  return storedLevel(d.slice(0, n), n / STRIDE);
}

/**
 * The card state in `text` if it is in the canonical layout (and of this engine); undefined otherwise.
 * Exported for the tests that hold it to the validating reader; callers read states with deserializeCard.
 */
export function canonicalCard(engine: FeatureEngine, text: string): CardState | undefined {
  return readCanonical(engine, text, (r) => {
    r.lit(',"last":');
    const last = r.num();
    r.lit(',"lastId":');
    const lastId = r.str();
    r.lit(',"max":');
    const maxTs = r.num();
    r.lit(',"lv":[');
    const levels: TileLevel[] = [];
    r.rest(() => levels.push(canonicalLevel(r)));
    if (levels.length !== tileLevelCount(engine)) return undefined;
    r.lit(',"mv":[');
    const merchants = new Map<string, MerchantVisit>();
    r.rest(() => {
      r.ch(OPEN);
      const m = r.str();
      r.ch(COMMA);
      const h = r.num();
      const days: number[] = [];
      while (r.eat(COMMA)) days.push(r.num());
      r.ch(CLOSE);
      merchants.set(m, { h, d: days });
    });
    r.lit(',"co":');
    const countries = r.numberMap();
    r.lit(',"p":[');
    const pending: PendingEvent[] = [];
    r.rest(() => {
      r.ch(OPEN);
      const id = r.str();
      r.ch(COMMA);
      const ts = r.num();
      r.ch(COMMA);
      const merchant = r.str();
      r.ch(COMMA);
      const cents = r.num();
      r.ch(COMMA);
      const country = r.str();
      r.ch(COMMA);
      const mcc = r.num();
      r.ch(COMMA);
      const channel = r.num();
      r.ch(COMMA);
      const localHour = r.num();
      r.ch(COMMA);
      const newMerchant = r.num();
      r.ch(COMMA);
      const merchantFeatures = r.numbers();
      r.ch(CLOSE);
      pending.push({ id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, merchantFeatures, vectorAt: -1 });
    });
    r.lit(',"seen":');
    const seen = r.numberMap();
    r.lit(',"late":');
    const lateIds = r.numberMap();
    return cardState(last, lastId, levels, merchants, countries, pending, maxTs, seen, lateIds);
  });
}

/**
 * The merchant state in `text` if it is in the canonical layout (and of this engine); undefined otherwise.
 * Exported for the tests; callers read states with deserializeMerchant.
 */
export function canonicalMerchant(engine: FeatureEngine, text: string): MerchantState | undefined {
  return readCanonical(engine, text, (r) => {
    r.lit(',"max":');
    const maxTs = r.num();
    r.lit(',"t":[');
    const tiles: MerchantState['tiles'] = [];
    r.rest(() => {
      r.ch(OPEN);
      const i = r.num();
      r.ch(COMMA);
      const n = r.num();
      r.ch(COMMA);
      const c = r.num();
      r.ch(CLOSE);
      tiles.push({ i, n, c });
    });
    return merchantState(tiles, maxTs);
  });
}

/**
 * The frame both canonical readers share: `{"v":…,"fs":"<this engine>"`, then `fields` (the rest
 * of the object's fields), then `}` and the end of the text. Undefined whenever the text leaves
 * the layout, or `fields` says so.
 */
function readCanonical<T>(engine: FeatureEngine, text: string, fields: (r: Scanner) => T | undefined): T | undefined {
  try {
    const r = new Scanner(text);
    r.lit(CANONICAL_HEAD);
    if (r.str() !== engine.version) return undefined;
    const value = fields(r);
    if (value === undefined) return undefined;
    r.lit('}');
    r.end();
    return value;
  } catch (e) {
    if (e === NOT_CANONICAL) return undefined;
    throw e;
  }
}
