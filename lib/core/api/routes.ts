// The API edge's one route table: the CDK API stack (lib/infra) and the local API (lib/local)
// both build their routes, scopes, body limits and request validation from it, so the two can
// never disagree about what a client may send or needs.
import { z } from 'zod';
import { EventSchema } from '../schemas/event';
import { ScoreRequestSchema } from '../scoring/request';

export const API_STAGE = 'v1';

/** OAuth scopes, one per kind of access (`fathom/<scope>` in Cognito's resource-server form). */
export const SCOPES = ['score', 'ingest', 'label', 'read'] as const;
export type Scope = (typeof SCOPES)[number];

/** The largest request body accepted anywhere on the edge (WAF, API Gateway, local API): 500 events fit. */
export const MAX_BODY_BYTES = 512 * 1024;
/** Events or labels per request, as Kinesis PutRecords allows. */
export const MAX_BATCH = 500;

export const LabelSchema = z.strictObject({
  event_id: EventSchema.shape.event_id,
  label: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }),
  labeled_at: EventSchema.shape.event_time,
});

export const EventsRequestSchema = z.strictObject({
  events: z.array(EventSchema).min(1, 'must hold at least one event').max(MAX_BATCH, `must hold at most ${MAX_BATCH} events`),
});
export const LabelsRequestSchema = z.strictObject({
  labels: z.array(LabelSchema).min(1, 'must hold at least one label').max(MAX_BATCH, `must hold at most ${MAX_BATCH} labels`),
});

/** What serves a route: a Lambda handler under lambdas/<name>/handler.ts, or Kinesis directly. */
export type RouteTarget = { readonly kind: 'lambda'; readonly handler: 'scoring' | 'labels' | 'features' | 'models' } | { readonly kind: 'kinesis-put-records' };

export interface RouteDefinition {
  readonly method: 'GET' | 'POST';
  /** API Gateway resource path under the stage, with `{param}` segments. */
  readonly path: string;
  readonly scope: Scope;
  /** The body's schema (POST only): API Gateway's request model is generated from it. */
  readonly body?: z.ZodType;
  readonly target: RouteTarget;
  readonly summary: string;
}

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'POST', path: '/score', scope: 'score', body: ScoreRequestSchema, target: { kind: 'lambda', handler: 'scoring' }, summary: 'score one event with the production model' },
  { method: 'POST', path: '/events', scope: 'ingest', body: EventsRequestSchema, target: { kind: 'kinesis-put-records' }, summary: 'send up to 500 events to the events stream' },
  { method: 'POST', path: '/labels', scope: 'label', body: LabelsRequestSchema, target: { kind: 'lambda', handler: 'labels' }, summary: 'send up to 500 ground-truth labels' },
  { method: 'GET', path: '/features/{entity_id}', scope: 'read', target: { kind: 'lambda', handler: 'features' }, summary: "an entity's current features and their age" },
  { method: 'GET', path: '/models', scope: 'read', target: { kind: 'lambda', handler: 'models' }, summary: 'model versions and their states' },
  { method: 'GET', path: '/models/{name}', scope: 'read', target: { kind: 'lambda', handler: 'models' }, summary: "one model's versions, states and metrics" },
];

/** The one error envelope of every answer that is not a success, from handlers and from the gateway itself. */
export const ErrorEnvelopeSchema = z.strictObject({
  error: z.strictObject({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    request_id: z.string(),
  }),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;
