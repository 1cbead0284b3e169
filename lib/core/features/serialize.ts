// Canonical JSON form of entity states, as stored in the online store's `state` attribute.
// Canonical (pruned, sorted, fixed field order) so two states with the same content serialise to
// the same bytes: the parity and reliability tests compare states as strings.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { toValidationError } from '../schemas/event';
import type { FeatureEngine } from './engine';
import type { CardState, MerchantState, PendingEvent } from './state';
import { levelFromTuples, levelToTuples } from './tile-level';

const STATE_SCHEMA_VERSION = 1;

const num = z.number().finite();
const CardJson = z.object({
  v: z.literal(STATE_SCHEMA_VERSION),
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

const MerchantJson = z.object({
  v: z.literal(STATE_SCHEMA_VERSION),
  fs: z.string(),
  max: num,
  t: z.array(z.tuple([num, num, num])),
});

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

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(`${field} is not valid JSON`, field);
  }
}

/** Parses a stored card state; refuses another feature-set version rather than mixing semantics. */
export function deserializeCard(engine: FeatureEngine, text: string): CardState {
  const r = CardJson.safeParse(parseJson(text, 'state'));
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
      id, ts, merchant, cents, country, mcc, channel, localHour, newMerchant, merchantFeatures,
    }),
  );
  state.maxTs = j.max;
  state.seen = new Map(j.seen);
  state.lateIds = new Map(j.late);
  return state;
}

export function serializeMerchant(engine: FeatureEngine, m: MerchantState): string {
  engine.pruneMerchant(m);
  return JSON.stringify({ v: STATE_SCHEMA_VERSION, fs: engine.version, max: m.maxTs, t: m.tiles.map((t) => [t.i, t.n, t.c]) });
}

export function deserializeMerchant(engine: FeatureEngine, text: string): MerchantState {
  const r = MerchantJson.safeParse(parseJson(text, 'state'));
  if (!r.success) throw toValidationError(r.error, 'state');
  if (r.data.fs !== engine.version) throw new ValidationError(`state was written by feature set ${r.data.fs}, engine is ${engine.version}`, 'state.fs');
  return { maxTs: r.data.max, tiles: r.data.t.map(([i, n, c]) => ({ i, n, c })) };
}
