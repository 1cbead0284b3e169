// The score request is checked by hand before zod (request.ts, "the plain request"): these tests
// hold that check to the zod schema it repeats. On valid requests and on thousands of broken ones,
// boundaries included, parseScoreRequest must give what zod alone gives: the same request (fields
// in the same order) or the same ValidationError naming the same field.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/core/errors';
import { parseScoreBody, parseScoreRequest, ScoreRequestSchema } from '../../../lib/core/scoring/request';
import { toValidationError, type ParseResult } from '../../../lib/core/schemas/event';
import type { ScoreRequest } from '../../../lib/core/scoring/request';

/** parseScoreRequest as it was, zod alone: the oracle. */
function zodOnly(input: unknown): ParseResult<ScoreRequest> {
  const r = ScoreRequestSchema.safeParse(input);
  if (!r.success) return { ok: false, error: toValidationError(r.error) };
  const event = { ...r.data.event, ts: Date.parse(r.data.event.event_time) };
  return { ok: true, value: r.data.model === undefined ? { event } : { model: r.data.model, event } };
}

/** What a result says, comparable with toEqual: key order of the request and its event included. */
function describeResult(r: ParseResult<ScoreRequest>): unknown {
  if (!r.ok) return { ok: false, type: r.error.constructor.name, field: r.error.field, message: r.error.message };
  return { ok: true, keys: Object.keys(r.value), eventKeys: Object.keys(r.value.event), json: JSON.stringify(r.value), value: r.value };
}

const event = { event_id: 'evt_1', entity_id: 'card_1', merchant_id: 'mer_1', amount: 10.5, currency: 'USD', mcc: 5411, country: 'US', channel: 'pos', event_time: '2026-03-02T12:00:00Z' };

/** Values around each field's boundaries, and of every other type. */
const VALUES: Record<string, unknown[]> = {
  id: ['', 'a', 'a'.repeat(128), 'a'.repeat(129), 'a b', 'a/b', 'A-Z_0.9:#-', 'é', 'x\n', 'abc\u0000', 7, null, ['a'], { a: 1 }],
  amount: [0, -0, -1e-9, 1e9, 1e9 + 1e-6, 1e-300, 12.34, Number.MAX_VALUE, -5, '10', null, true, [1], Infinity, NaN],
  currency: ['USD', 'usd', 'US', 'USDD', ' USD', 'USD\n', 3, null],
  mcc: [0, 9999, 10000, -1, 5411.5, -0, 1e3, '5411', null, NaN, 2 ** 53],
  country: ['US', 'us', 'USA', 'U', 'US\n', '', 1, null],
  channel: ['pos', 'ecom', 'atm', 'moto', 'POS', 'web', '', 'toString', '__proto__', 1, null],
  event_time: [
    '2026-03-02T12:00:00Z',
    '2026-03-02T12:00:00.1Z',
    '2026-03-02T12:00:00.123456789Z',
    '2026-03-02T12:00:00.1234567890Z',
    '2026-03-02T12:00:00',
    '2026-03-02T12:00:00+00:00',
    '2026-02-30T12:00:00Z',
    '2026-13-02T12:00:00Z',
    '2026-03-02T25:00:00Z',
    '2026-03-02 12:00:00Z',
    '2026-03-02T12:00:00Z\n',
    '+2026-03-02T12:00:00Z',
    '9999-12-31T23:59:59Z',
    1_700_000_000_000,
    null,
  ],
  model: ['card-fraud', 'a', 'a'.repeat(63), 'a'.repeat(64), 'Card', '1card', 'card_fraud', 'card-', '', 7, null, undefined],
};
const FIELD_VALUES: Record<string, unknown[]> = {
  event_id: VALUES['id']!,
  entity_id: VALUES['id']!,
  merchant_id: VALUES['id']!,
  amount: VALUES['amount']!,
  currency: VALUES['currency']!,
  mcc: VALUES['mcc']!,
  country: VALUES['country']!,
  channel: VALUES['channel']!,
  event_time: VALUES['event_time']!,
};

function* inputs(): Generator<unknown> {
  yield { event };
  yield { model: 'card-fraud', event };
  yield { event, model: 'card-fraud' };
  // The event's fields in another order: accepted all the same, and built in the schema's order.
  yield { event: Object.fromEntries(Object.entries(event).reverse()) };
  for (const [field, values] of Object.entries(FIELD_VALUES)) {
    for (const v of values) yield { model: 'card-fraud', event: { ...event, [field]: v } };
    const { [field]: _dropped, ...without } = event as Record<string, unknown>;
    yield { event: without };
  }
  for (const m of VALUES['model']!) yield { model: m, event };
  yield { event: { ...event, extra: 1 } };
  yield { model: 'card-fraud', event, extra: 1 };
  yield { model: 'card-fraud' };
  yield {};
  yield { event: null };
  yield { event: [] };
  yield { event: 'x' };
  yield null;
  yield [];
  yield 'x';
  yield 1;
  // Not plain objects: left to zod.
  yield Object.assign(Object.create({ inherited: 1 }) as object, { event });
  yield { event: Object.assign(Object.create(null) as object, event) };
  yield { event: Object.assign(new (class Event {})(), event) };
  // Keys JSON.parse makes own properties, where a literal would not.
  yield JSON.parse(`{"__proto__":{},"event":${JSON.stringify(event)}}`);
  yield JSON.parse(`{"event":${JSON.stringify({ ...event }).replace('{', '{"__proto__":1,')}}`);
  // Two broken fields at once: zod names its first.
  yield { event: { ...event, amount: -1, currency: 'x' } };
  yield { model: 'X', event: { ...event, mcc: -1 } };
}

describe('score request: the hand check against zod', () => {
  it('gives what zod alone gives, for good and broken requests alike', () => {
    let accepted = 0;
    let refused = 0;
    for (const input of inputs()) {
      const ours = parseScoreRequest(input);
      const theirs = zodOnly(input);
      expect({ input, result: describeResult(ours) }).toEqual({ input, result: describeResult(theirs) });
      if (ours.ok) accepted++;
      else {
        refused++;
        expect(ours.error).toBeInstanceOf(ValidationError);
      }
    }
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(80);
  });

  it('gives what zod alone gives for every pair of broken fields', () => {
    const fields = Object.keys(FIELD_VALUES);
    for (const a of fields) {
      for (const b of fields) {
        if (a >= b) continue;
        for (const va of FIELD_VALUES[a]!) {
          for (const vb of FIELD_VALUES[b]!.slice(0, 4)) {
            const input = { event: { ...event, [a]: va, [b]: vb } };
            expect({ input, result: describeResult(parseScoreRequest(input)) }).toEqual({ input, result: describeResult(zodOnly(input)) });
          }
        }
      }
    }
  });

  it('parses body text as before', () => {
    const text = JSON.stringify({ model: 'card-fraud', event });
    expect(describeResult(parseScoreBody(text))).toEqual(describeResult(zodOnly(JSON.parse(text))));
    const r = parseScoreBody(JSON.stringify({ event: { ...event, amount: -1 } }));
    expect(!r.ok && r.error.field).toBe('event.amount');
  });
});
