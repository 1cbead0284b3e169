// The score request at the API edge: an optional model name and one event, both strict. The
// event schema is the API's (unknown fields rejected), so a typo in a field name is a 400 naming
// it rather than a silently ignored value.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { MODEL_NAME_PATTERN, ModelNameSchema, type ModelName } from '../models/manifest';
import { CHANNELS, EVENT_RULES, EventSchema, timed, toValidationError, type Channel, type Event, type ParseResult, type TimedEvent } from '../schemas/event';

export const ScoreRequestSchema = z.strictObject({
  /** The model to score with; the function's default model when absent. */
  model: ModelNameSchema.optional(),
  event: EventSchema,
});

export interface ScoreRequest {
  readonly model?: ModelName;
  readonly event: TimedEvent;
}

export function parseScoreRequest(input: unknown): ParseResult<ScoreRequest> {
  const plain = plainScoreRequest(input);
  if (plain) return { ok: true, value: plain };
  const r = ScoreRequestSchema.safeParse(input);
  if (!r.success) return { ok: false, error: toValidationError(r.error) };
  // The event time joins the event zod just built for this call (a fresh object, owned here)
  // rather than a copy of it: spreading its ten fields was a measurable share of the parse.
  // The cast holds from the next line on.
  const event = r.data.event as Event & { ts: number };
  event.ts = Date.parse(event.event_time);
  return { ok: true, value: r.data.model === undefined ? { event } : { model: r.data.model, event } };
}

/** The request body as text (API Gateway hands over null for an empty body). */
export function parseScoreBody(body: string | null | undefined): ParseResult<ScoreRequest> {
  if (body === null || body === undefined || body === '') return { ok: false, error: new ValidationError('body: a JSON object is required', 'body') };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, error: new ValidationError('body: is not valid JSON', 'body') };
  }
  return parseScoreRequest(json);
}

// ---- the plain request, checked by hand --------------------------------------------------------
//
// Hand-written because of what it costs: zod's pass over a valid request (a pipe per id field, a
// payload object per field, the refinement) was about three quarters of the body's parse, on
// every score request. The checks below are exactly the schema's — over the same rules
// (EVENT_RULES and MODEL_NAME_PATTERN, which the schemas are built from) — and they only ever
// accept: a request they do not take outright (a missing, extra or mistyped field, a value out
// of range, an object that is not a plain one) goes to zod, which accepts or refuses it and
// names the field as before. So a bad request is refused by zod alone, and a good one comes out
// as zod would build it (its fields in the schema's order, then `ts`).
// test/unit/scoring/request.test.ts holds the two to the same results on valid requests and on
// thousands of broken ones, boundaries included; a change to the schemas must be made here too.

const { idPattern: ID, idMaxLength, amountMax, currencyPattern: CURRENCY, mccMax, countryPattern: COUNTRY, eventTimePattern: ISO_UTC } = EVENT_RULES;
const MODEL_NAME = MODEL_NAME_PATTERN;
const EVENT_FIELDS = new Set(['event_id', 'entity_id', 'merchant_id', 'amount', 'currency', 'mcc', 'country', 'channel', 'event_time']);
const CHANNEL_SET: ReadonlySet<unknown> = new Set<Channel>(CHANNELS);

/** An object literal or JSON.parse's object, nothing inherited: what the checks below can read plainly. */
function isPlain(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;
}

const isId = (x: unknown): x is string => typeof x === 'string' && x.length >= 1 && x.length <= idMaxLength && ID.test(x);

/** The request if every field is as the schema wants it; undefined for zod to decide otherwise. */
function plainScoreRequest(input: unknown): ScoreRequest | undefined {
  if (!isPlain(input)) return undefined;
  let keys = 0;
  for (const k in input) {
    if (k !== 'model' && k !== 'event') return undefined;
    keys++;
  }
  const model = input['model'];
  if (model !== undefined && !(typeof model === 'string' && MODEL_NAME.test(model))) return undefined;
  if (model === undefined && keys !== 1) return undefined;
  const event = plainEvent(input['event']);
  if (!event) return undefined;
  return model === undefined ? { event } : { model: model as ModelName, event };
}

function plainEvent(x: unknown): TimedEvent | undefined {
  if (!isPlain(x)) return undefined;
  let keys = 0;
  for (const k in x) {
    if (!EVENT_FIELDS.has(k)) return undefined;
    keys++;
  }
  if (keys !== EVENT_FIELDS.size) return undefined;
  const { event_id, entity_id, merchant_id, amount, currency, mcc, country, channel, event_time } = x;
  if (!isId(event_id) || !isId(entity_id) || !isId(merchant_id)) return undefined;
  if (typeof amount !== 'number' || !Number.isFinite(amount) || !(amount >= 0) || !(amount <= amountMax)) return undefined;
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) return undefined;
  if (typeof mcc !== 'number' || !Number.isInteger(mcc) || !(mcc >= 0) || !(mcc <= mccMax)) return undefined;
  if (typeof country !== 'string' || !COUNTRY.test(country)) return undefined;
  if (!CHANNEL_SET.has(channel)) return undefined;
  if (typeof event_time !== 'string' || !ISO_UTC.test(event_time)) return undefined;
  const ts = Date.parse(event_time);
  if (!Number.isFinite(ts)) return undefined;
  // Every key was checked to be one of the schema's nine, so timed() copies no others.
  return timed(x as Event & Record<string, unknown>, ts);
}
