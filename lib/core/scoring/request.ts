// The score request at the API edge: an optional model name and one event, both strict. The
// event schema is the API's (unknown fields rejected), so a typo in a field name is a 400 naming
// it rather than a silently ignored value.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { ModelNameSchema, type ModelName } from '../models/manifest';
import { EventSchema, toValidationError, type Event, type ParseResult, type TimedEvent } from '../schemas/event';

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
