// Parsing a request at the edge with the route table's schemas: a body against its route's body
// schema, path parameters against the field schemas they stand for. The local API and the
// handlers call the same functions, so a request refused locally is refused on AWS with the same
// field named.
import type { z } from 'zod';
import { ValidationError } from '../errors';
import { ModelNameSchema, type ModelName } from '../models/manifest';
import { EventSchema, toValidationError, type ParseResult } from '../schemas/event';

/** A JSON body (text) against a schema; an empty body, bad JSON and every schema issue name a field. */
export function parseJsonBody<S extends z.ZodType>(schema: S, body: string | null | undefined): ParseResult<z.output<S>> {
  if (body === null || body === undefined || body === '') return { ok: false, error: new ValidationError('body: a JSON object is required', 'body') };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, error: new ValidationError('body: is not valid JSON', 'body') };
  }
  const r = schema.safeParse(json);
  if (!r.success) return { ok: false, error: toValidationError(r.error) };
  return { ok: true, value: r.data };
}

function param<T>(schema: z.ZodType<T>, name: string, value: string | undefined): ParseResult<T> {
  if (value === undefined || value === '') return { ok: false, error: new ValidationError(`${name}: is required in the path`, name) };
  const r = schema.safeParse(value);
  if (!r.success) return { ok: false, error: new ValidationError(`${name}: ${r.error.issues[0]?.message ?? 'is invalid'}`, name) };
  return { ok: true, value: r.data };
}

/** `{entity_id}` of GET /features/{entity_id}: an event's entity id. */
export const parseEntityIdParam = (value: string | undefined): ParseResult<string> => param(EventSchema.shape.entity_id, 'entity_id', value);

/** `{name}` of GET /models/{name}. */
export const parseModelNameParam = (value: string | undefined): ParseResult<ModelName> => param(ModelNameSchema, 'name', value);
