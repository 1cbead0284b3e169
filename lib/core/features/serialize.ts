// Canonical JSON form of entity states, as stored in the online store's `state` attribute.
// Canonical (pruned, sorted, fixed field order) so two states with the same content serialise to
// the same bytes: the parity and reliability tests compare states as strings.
import { ValidationError } from '../errors';
import type { FeatureEngine } from './engine';
import { SeenIds } from './seen-ids';
import { merchantState, type CardAggregate, type CardState, type MerchantState, type MerchantVisit, type PendingEvent } from './state';
import { STRIDE, emptyLevel, levelToTuples, type TileLevel } from './tile-level';

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
    // Its cap as levelFromTuples sets it, so the level prunes (and grows) at the same points.
    const level = emptyLevel(Math.max(4, tuples.length));
    const d = level.data;
    for (let k = 0; k < tuples.length; k++) {
      const t = tupleAt(tuples[k], STRIDE, 'state.lv', l, k);
      for (let j = 0; j < STRIDE; j++) {
        const v = t[j];
        if (!finite(v)) refuse(`state.lv.${l}.${k}.${j}`, 'a finite number', v);
        d.push(v);
      }
    }
    level.len = tuples.length;
    levels.push(level);
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
    out.push({ id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, merchantFeatures });
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
