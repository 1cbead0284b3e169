// The stored-state readers check structure by hand (they are on every score request). These tests
// hold them to the zod schemas they replaced, kept here as the oracle: on real states and on
// thousands of corrupted ones, both accept the same texts, build the same states, and refuse the
// same texts naming the same field.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../lib/core/errors';
import { SeenIds } from '../../lib/core/features/seen-ids';
import {
  canonicalCard,
  canonicalMerchant,
  deserializeCard,
  deserializeMerchant,
  FeatureEngine,
  IncrementalDriver,
  MINUTE_MS,
  referenceFeatureSet,
  serializeCard,
  serializeMerchant,
  type CardState,
  type MerchantState,
  type PendingEvent,
} from '../../lib/core/features';
import { levelFromTuples } from '../../lib/core/features/tile-level';
import { generateWorkload } from '../../lib/core/generator';
import { toValidationError } from '../../lib/core/schemas/event';
import { shuffleWithinLateness } from '../support/events';

const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: 5 * MINUTE_MS });

// ---- the oracle: the former zod-based readers, verbatim ---------------------------------------

const num = z.number().finite();
const CardJson = z.object({
  v: z.literal(1),
  fs: z.string(),
  last: num,
  lastId: z.string(),
  max: num,
  lv: z.array(z.array(z.tuple([num, num, num, num, num, num]))),
  mv: z.array(z.tuple([z.string(), num]).rest(num)),
  co: z.array(z.tuple([z.string(), num])),
  p: z.array(z.tuple([z.string(), num, z.string(), num, z.string(), num, num, num, num, z.array(num)])),
  seen: z.array(z.tuple([z.string(), num])),
  late: z.array(z.tuple([z.string(), num])),
});
const MerchantJson = z.object({ v: z.literal(1), fs: z.string(), max: num, t: z.array(z.tuple([num, num, num])) });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('state is not valid JSON', 'state');
  }
}

function oracleCard(text: string): CardState {
  const r = CardJson.safeParse(parseJson(text));
  if (!r.success) throw toValidationError(r.error, 'state');
  const j = r.data;
  if (j.fs !== engine.version) throw new ValidationError(`state was written by feature set ${j.fs}, engine is ${engine.version}`, 'state.fs');
  const state = engine.newCardState();
  if (j.lv.length !== state.agg.levels.length) throw new ValidationError('state has a different tile layout', 'state.lv');
  state.agg.last = j.last;
  state.agg.lastId = j.lastId;
  state.agg.levels = j.lv.map(levelFromTuples);
  state.agg.merchants = new Map(j.mv.map(([m, h, ...d]) => [m, { h, d }]));
  state.agg.countries = new Map(j.co);
  for (const [c, n] of j.co) {
    if (n > state.agg.homeN || (n === state.agg.homeN && c < state.agg.home)) {
      state.agg.home = c;
      state.agg.homeN = n;
    }
  }
  state.pending = j.p.map(
    ([id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, merchantFeatures]): PendingEvent => ({
      id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, merchantFeatures, vectorAt: -1,
    }),
  );
  state.maxTs = j.max;
  state.seen = SeenIds.from(j.seen);
  state.lateIds = new Map(j.late);
  return state;
}

function oracleMerchant(text: string): MerchantState {
  const r = MerchantJson.safeParse(parseJson(text));
  if (!r.success) throw toValidationError(r.error, 'state');
  if (r.data.fs !== engine.version) throw new ValidationError(`state was written by feature set ${r.data.fs}, engine is ${engine.version}`, 'state.fs');
  return { maxTs: r.data.max, tiles: r.data.t.map(([i, n, c]) => ({ i, n, c })) };
}

// ---- states ---------------------------------------------------------------------------------

/** Real states: a shuffled, duplicated stream over a generated workload, not flushed, so cards hold pending events too. */
function realStates(): { cards: string[]; merchants: string[] } {
  const events = [...generateWorkload({ seed: 5, events: 4000 })].map((g) => ({ ...g.event, ts: Date.parse(g.event.event_time) }));
  const d = new IncrementalDriver(engine);
  for (const e of shuffleWithinLateness(events, engine.allowedLatenessMs, 0.05, 3)) d.ingest(e);
  return { cards: [...d.cards.values()].map((c) => serializeCard(engine, c)), merchants: [...d.merchants.values()].map((m) => serializeMerchant(engine, m)) };
}

type Outcome<T> = { ok: true; value: T } | { ok: false; field: string; error: unknown };
function outcome<T>(f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, field: e instanceof ValidationError ? e.field : '(not a ValidationError)', error: e };
  }
}

// ---- corruption -----------------------------------------------------------------------------

type Node = unknown;
/** Every container in `root` with the keys/indices of its entries: where a corruption can go. */
function sites(root: Node): { parent: Record<string, Node> | Node[]; key: string | number }[] {
  const out: { parent: Record<string, Node> | Node[]; key: string | number }[] = [];
  const walk = (x: Node) => {
    if (Array.isArray(x)) {
      x.forEach((v, i) => {
        out.push({ parent: x, key: i });
        walk(v);
      });
    } else if (typeof x === 'object' && x !== null) {
      for (const [k, v] of Object.entries(x)) {
        out.push({ parent: x as Record<string, Node>, key: k });
        walk(v);
      }
    }
  };
  walk(root);
  return out;
}

const INF = '__infinity__';
const REPLACEMENTS: Node[] = ['x', null, true, 0, -1.5, {}, [], [1], INF, 'card_fraud.v0'];

/** Deterministic corruptions of one state text: a replaced, removed or extra entry somewhere. */
function* corruptions(text: string, seed: number, count: number): Generator<string> {
  let s = seed;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
  for (let c = 0; c < count; c++) {
    const root = JSON.parse(text) as Node;
    const all = sites(root);
    const { parent, key } = all[rnd(all.length)]!;
    const how = rnd(4);
    if (how === 0 && Array.isArray(parent)) parent.splice(key as number, 1);
    else if (how === 0) delete (parent as Record<string, Node>)[key as string];
    else if (how === 1 && Array.isArray(parent)) parent.push(REPLACEMENTS[rnd(REPLACEMENTS.length)]);
    else if (how === 1) (parent as Record<string, Node>)['extra'] = 1;
    else if (Array.isArray(parent)) parent[key as number] = REPLACEMENTS[rnd(REPLACEMENTS.length)];
    else (parent as Record<string, Node>)[key as string] = REPLACEMENTS[rnd(REPLACEMENTS.length)];
    // JSON has no Infinity, but 1e999 parses to it: a number the readers must refuse as not finite.
    yield JSON.stringify(root).replaceAll(`"${INF}"`, '1e999');
  }
}

describe('stored states: hand-written readers against the zod oracle', () => {
  const { cards, merchants } = realStates();

  it('reads every real state exactly as the zod readers did, and writes it back byte for byte', () => {
    expect(cards.some((t) => !t.includes('"p":[]'))).toBe(true);
    for (const text of cards) {
      const state = deserializeCard(engine, text);
      expect(state).toEqual(oracleCard(text));
      expect(serializeCard(engine, state)).toBe(text);
    }
    for (const text of merchants) {
      const state = deserializeMerchant(engine, text);
      expect(state).toEqual(oracleMerchant(text));
      expect(serializeMerchant(engine, state)).toBe(text);
    }
  });

  it('accepts and refuses the same corrupted card states, naming the same field', () => {
    let refused = 0;
    cards.slice(0, 40).forEach((text, i) => {
      for (const bad of corruptions(text, i + 1, 60)) {
        const ours = outcome(() => deserializeCard(engine, bad));
        const theirs = outcome(() => oracleCard(bad));
        expect({ text: bad, ok: ours.ok }).toEqual({ text: bad, ok: theirs.ok });
        if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
        if (!ours.ok && !theirs.ok) {
          refused++;
          expect(ours.error).toBeInstanceOf(ValidationError);
          expect({ text: bad, field: ours.field }).toEqual({ text: bad, field: theirs.field });
        }
      }
    });
    expect(refused).toBeGreaterThan(1000);
  });

  it('accepts and refuses the same corrupted merchant states, naming the same field', () => {
    merchants.forEach((text, i) => {
      for (const bad of corruptions(text, 1000 + i, 60)) {
        const ours = outcome(() => deserializeMerchant(engine, bad));
        const theirs = outcome(() => oracleMerchant(bad));
        expect({ text: bad, ok: ours.ok }).toEqual({ text: bad, ok: theirs.ok });
        if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
        if (!ours.ok && !theirs.ok) expect({ text: bad, field: ours.field }).toEqual({ text: bad, field: theirs.field });
      }
    });
  });

  it('refuses text that is not a state object, naming the field', () => {
    for (const text of ['', 'not json', 'null', '[]', '1', '"state"']) {
      for (const read of [(): unknown => deserializeCard(engine, text), (): unknown => deserializeMerchant(engine, text)]) {
        const r = outcome(read);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.field).toBe('state');
      }
    }
    const card = JSON.parse(cards[0]!) as Record<string, unknown>;
    const r = outcome(() => deserializeCard(engine, JSON.stringify({ ...card, lv: [[[1, 2, 3, 4, 5, 'x']]] })));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.field).toBe('state.lv.0.0.5');
      expect((r.error as Error).message).toBe('state.lv.0.0.5: expected a finite number, got string');
    }
  });

  it('refuses a state of another feature-set version or tile layout', () => {
    const card = JSON.parse(cards[0]!) as Record<string, unknown>;
    expect(outcome(() => deserializeCard(engine, JSON.stringify({ ...card, fs: 'card_fraud.v0' })))).toMatchObject({ ok: false, field: 'state.fs' });
    expect(outcome(() => deserializeCard(engine, JSON.stringify({ ...card, lv: [] })))).toMatchObject({ ok: false, field: 'state.lv' });
    expect(outcome(() => deserializeCard(engine, JSON.stringify({ ...card, v: 2 })))).toMatchObject({ ok: false, field: 'state.v' });
    const merchant = JSON.parse(merchants[0]!) as Record<string, unknown>;
    expect(outcome(() => deserializeMerchant(engine, JSON.stringify({ ...merchant, fs: 'other.v1' })))).toMatchObject({ ok: false, field: 'state.fs' });
  });

  // The canonical readers take only the writer's exact layout and give up on anything else, which
  // the validating reader then reads: both paths must give the oracle's result.
  it('reads every real state on the canonical path, to the same state', () => {
    for (const text of cards) expect(canonicalCard(engine, text)).toEqual(oracleCard(text));
    for (const text of merchants) expect(canonicalMerchant(engine, text)).toEqual(oracleMerchant(text));
  });

  it('reads numbers exactly as JSON.parse does, on the canonical path or off it', () => {
    const withPending = cards.find((t) => !t.includes('"p":[]'))!;
    // Each replaces the first number of a kind in the state: a tile value, the watermark, a pending event's feature.
    const numbers = ['0', '-0', '7', '-7', '1.5', '-2.25', '1e3', '1E3', '1e+3', '2.5e-3', '123456789012345', '1234567890123456', '12345678901234567890', '9007199254740993', '0.1', '1e308', '1e999', '-1e999', '01', '1.', '.5', '-', '+1', '1e', '0x10', 'NaN'];
    let canonical = 0;
    for (const n of numbers) {
      const texts = [
        withPending.replace(/"lv":\[\[\[\d+,\d+/, (m) => m.replace(/,\d+$/, `,${n}`)),
        withPending.replace(/"max":\d+/, `"max":${n}`),
        withPending.replace(/"p":\[\[("[^"]*"),(\d+)/, `"p":[[$1,${n}`),
      ];
      for (const text of texts) {
        expect(text).not.toBe(withPending);
        const ours = outcome(() => deserializeCard(engine, text));
        const theirs = outcome(() => oracleCard(text));
        expect({ text, ok: ours.ok }).toEqual({ text, ok: theirs.ok });
        if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
        if (!ours.ok && !theirs.ok) expect({ text, field: ours.field }).toEqual({ text, field: theirs.field });
        if (canonicalCard(engine, text) !== undefined) canonical++;
      }
    }
    // Most of these are valid JSON numbers, read on the canonical path.
    expect(canonical).toBeGreaterThan(30);
    const merchant = merchants[0]!;
    for (const n of numbers) {
      const text = merchant.replace(/"t":\[\[\d+/, `"t":[[${n}`);
      const ours = outcome(() => deserializeMerchant(engine, text));
      const theirs = outcome(() => oracleMerchant(text));
      expect({ text, ok: ours.ok }).toEqual({ text, ok: theirs.ok });
      if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
      if (!ours.ok && !theirs.ok) expect({ text, field: ours.field }).toEqual({ text, field: theirs.field });
    }
  });

  it('leaves other layouts of a state to the validating reader, which reads them as before', () => {
    const text = cards.find((t) => !t.includes('"p":[]'))!;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const { v, ...rest } = parsed;
    const variants = [
      JSON.stringify(parsed, null, 2),
      ` ${text}`,
      `${text}\n`,
      JSON.stringify({ ...rest, v }),
      JSON.stringify({ ...parsed, extra: 1 }),
      text.replace('"lastId":"', '"lastId":"\\u0065'),
      text.replace(/"mv":\[\["/, '"mv":[["\\"'),
      text.replace('"v":1', '"v":1.0'),
      text.replace('"fs":"', '"fs":"x'),
      text.replace('"lv":[', '"lv":[[],'),
      text.slice(0, -1),
      `${text}}`,
    ];
    for (const variant of variants) {
      expect(canonicalCard(engine, variant)).toBeUndefined();
      const ours = outcome(() => deserializeCard(engine, variant));
      const theirs = outcome(() => oracleCard(variant));
      expect({ variant, ok: ours.ok }).toEqual({ variant, ok: theirs.ok });
      if (ours.ok && theirs.ok) expect(ours.value).toEqual(theirs.value);
      if (!ours.ok && !theirs.ok) expect({ variant, field: ours.field }).toEqual({ variant, field: theirs.field });
    }
    const merchant = merchants[0]!;
    for (const variant of [JSON.stringify(JSON.parse(merchant), null, 1), merchant.replace('"max"', '"t":[],"max"'), merchant.replace('"fs":"', '"fs":"\\u0063')]) {
      expect(canonicalMerchant(engine, variant)).toBeUndefined();
      expect(outcome(() => deserializeMerchant(engine, variant))).toEqual(outcome(() => oracleMerchant(variant)));
    }
  });
});
