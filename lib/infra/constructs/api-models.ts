// API Gateway request models generated from the route table's zod schemas (DESIGN.md, principle
// 4: one source, never a hand-copied JSON Schema). API Gateway validates bodies against JSON
// Schema draft 4; zod writes that draft, and this file only renames the keywords CDK spells
// differently (`$schema` → `schema`, `$ref` → `ref`). A keyword API Gateway's model has no place
// for fails synth instead of being dropped, so a model can never be looser than its schema by
// accident. zod refinements (e.g. "is a real date") have no JSON Schema form: the handlers'
// own parse of the same schema enforces them.
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { z } from 'zod';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const TYPES: ReadonlySet<string> = new Set(Object.values(apigw.JsonSchemaType));
const isObject = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

function type(value: Json, where: string): apigw.JsonSchemaType {
  if (typeof value !== 'string' || !TYPES.has(value)) throw new Error(`${where}: unsupported JSON Schema type ${JSON.stringify(value)}`);
  return value as apigw.JsonSchemaType;
}

function num(value: Json, where: string): number {
  if (typeof value !== 'number') throw new Error(`${where}: expected a number, got ${JSON.stringify(value)}`);
  return value;
}

function bool(value: Json, where: string): boolean {
  if (typeof value !== 'boolean') throw new Error(`${where}: expected a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function str(value: Json, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function list(value: Json, where: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected an array, got ${JSON.stringify(value)}`);
  return value;
}

function schemaMap(value: Json, where: string): Record<string, apigw.JsonSchema> {
  if (!isObject(value)) throw new Error(`${where}: expected an object of schemas`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toApiGatewaySchema(v, `${where}.${k}`)]));
}

/** A draft-4 JSON Schema document (as zod writes it) in CDK's `JsonSchema` form. */
export function toApiGatewaySchema(json: Json, where = '#'): apigw.JsonSchema {
  if (!isObject(json)) throw new Error(`${where}: a schema must be an object`);
  const out: Mutable<apigw.JsonSchema> = {};
  for (const [key, value] of Object.entries(json)) {
    const at = `${where}.${key}`;
    switch (key) {
      case '$schema':
        if (value !== apigw.JsonSchemaVersion.DRAFT4) throw new Error(`${at}: API Gateway models are JSON Schema draft 4, got ${JSON.stringify(value)}`);
        out.schema = apigw.JsonSchemaVersion.DRAFT4;
        break;
      case '$ref':
        out.ref = str(value, at);
        break;
      case 'id':
      case 'title':
      case 'description':
      case 'pattern':
      case 'format':
        out[key] = str(value, at);
        break;
      case 'type':
        out.type = Array.isArray(value) ? value.map((t, i) => type(t, `${at}[${i}]`)) : type(value, at);
        break;
      case 'enum':
        out.enum = list(value, at);
        break;
      case 'default':
        out.default = value;
        break;
      case 'required':
        out.required = list(value, at).map((r, i) => str(r, `${at}[${i}]`));
        break;
      case 'multipleOf':
      case 'maximum':
      case 'minimum':
      case 'maxLength':
      case 'minLength':
      case 'maxItems':
      case 'minItems':
      case 'maxProperties':
      case 'minProperties':
        out[key] = num(value, at);
        break;
      case 'exclusiveMaximum':
      case 'exclusiveMinimum':
      case 'uniqueItems':
        out[key] = bool(value, at);
        break;
      case 'properties':
      case 'patternProperties':
      case 'definitions':
        out[key] = schemaMap(value, at);
        break;
      case 'items':
        out.items = Array.isArray(value) ? value.map((v, i) => toApiGatewaySchema(v, `${at}[${i}]`)) : toApiGatewaySchema(value, at);
        break;
      case 'additionalProperties':
      case 'additionalItems':
        out[key] = typeof value === 'boolean' ? value : toApiGatewaySchema(value, at);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        out[key] = list(value, at).map((v, i) => toApiGatewaySchema(v, `${at}[${i}]`));
        break;
      case 'not':
        out.not = toApiGatewaySchema(value, at);
        break;
      default:
        throw new Error(`${at}: JSON Schema keyword ${key} has no place in an API Gateway model`);
    }
  }
  return out;
}

/**
 * The request model of a zod schema: what a client may send, so the schema's input side (a
 * `transform` describes what the handler gets, not what arrives).
 */
export function requestModelSchema(schema: z.ZodType): apigw.JsonSchema {
  // zod's JSON Schema is plain JSON by construction.
  return toApiGatewaySchema(z.toJSONSchema(schema, { target: 'draft-4', io: 'input' }) as Json);
}

/** `/models/{name}` → `ModelsName`: an alphanumeric API Gateway model name. */
export function modelNameFor(path: string): string {
  return path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}
