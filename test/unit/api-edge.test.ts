// The API edge's pure core: route matching, scopes and the authorizer policy, the usage-plan
// meter, the /events answer, the envelope mapping and the read views.
import { describe, expect, it } from 'vitest';
import { edgeErrorAnswer, EdgeError, gatewayError, gatewayResponseTemplate, GATEWAY_RESPONSES } from '../../lib/core/api/errors';
import { eventsAnswer } from '../../lib/core/api/events-integration';
import { matchRoute } from '../../lib/core/api/match';
import { parseEntityIdParam, parseJsonBody } from '../../lib/core/api/request';
import { ErrorEnvelopeSchema, LabelsRequestSchema } from '../../lib/core/api/routes';
import { parseScopeList, policyFor, scopesFromClaim } from '../../lib/core/api/scopes';
import { UsagePlanMeter } from '../../lib/core/api/usage-plan';
import { featuresView, modelViews } from '../../lib/core/api/views';
import { ResourceError, ValidationError } from '../../lib/core/errors';
import type { ModelName, ModelVersion } from '../../lib/core/models/manifest';
import type { ModelVersionRecord } from '../../lib/core/models/ports';

describe('matchRoute', () => {
  it('finds routes under the stage with their path parameters, decoded', () => {
    const m = matchRoute('GET', '/v1/features/card%3A1');
    expect(m.kind === 'route' && m.route.path).toBe('/features/{entity_id}');
    expect(m.kind === 'route' && m.params).toEqual({ entity_id: 'card:1' });
    expect(matchRoute('GET', '/v1/models').kind).toBe('route');
    expect(matchRoute('POST', '/v1/score/').kind).toBe('route');
  });

  it('tells an unknown path (404) from a known path with another method (405)', () => {
    expect(matchRoute('GET', '/v2/score')).toEqual({ kind: 'not_found' });
    expect(matchRoute('GET', '/v1/features')).toEqual({ kind: 'not_found' });
    expect(matchRoute('GET', '/score')).toEqual({ kind: 'not_found' });
    expect(matchRoute('GET', '/v1/score')).toEqual({ kind: 'method_not_allowed', allowed: ['POST'] });
    expect(matchRoute('DELETE', '/v1/models/x')).toEqual({ kind: 'method_not_allowed', allowed: ['GET'] });
    expect(matchRoute('GET', '/v1/features/%zz')).toEqual({ kind: 'bad_path', segment: '%zz' });
  });
});

describe('scopes', () => {
  it('reads bare and fathom/ scopes, ignoring others', () => {
    expect([...scopesFromClaim('fathom/score read openid other/ingest')]).toEqual(['score', 'read']);
    expect([...scopesFromClaim(['label', 7])]).toEqual(['label']);
    expect(scopesFromClaim(undefined).size).toBe(0);
    expect(parseScopeList('score, fathom/read,admin')).toEqual({ scopes: ['score', 'read'], unknown: ['admin'] });
  });

  it('allows every route of the scopes on the stage of the method ARN, or denies the stage', () => {
    const arn = 'arn:aws:execute-api:us-east-1:111122223333:api1/v1/GET/models/x';
    expect(policyFor(arn, new Set(['ingest', 'label'])).Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: ['arn:aws:execute-api:us-east-1:111122223333:api1/v1/POST/events', 'arn:aws:execute-api:us-east-1:111122223333:api1/v1/POST/labels'] },
    ]);
    expect(policyFor(arn, new Set()).Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: ['arn:aws:execute-api:us-east-1:111122223333:api1/v1/*'] }]);
  });
});

describe('UsagePlanMeter', () => {
  const DAY = 86_400_000;
  it('admits the burst at once, then the rate, with a Retry-After in whole seconds', () => {
    const t0 = 10 * DAY + 1000;
    const meter = new UsagePlanMeter({ rateLimit: 2, burstLimit: 3, quotaPerDay: 100 }, t0);
    for (let i = 0; i < 3; i++) expect(meter.take(t0).ok).toBe(true);
    expect(meter.take(t0)).toEqual({ ok: false, reason: 'rate', retryAfterSeconds: 1 });
    expect(meter.take(t0 + 499).ok).toBe(false);
    expect(meter.take(t0 + 500).ok).toBe(true);
    // Refill never exceeds the burst.
    const later = t0 + 60_000;
    for (let i = 0; i < 3; i++) expect(meter.take(later).ok).toBe(true);
    expect(meter.take(later).ok).toBe(false);
  });

  it('holds a key to its daily quota until the next UTC day; refused requests do not count', () => {
    const t0 = 20 * DAY + 3_600_000;
    const meter = new UsagePlanMeter({ rateLimit: 1000, burstLimit: 1000, quotaPerDay: 2 }, t0);
    expect(meter.take(t0)).toEqual({ ok: true, remainingToday: 1 });
    expect(meter.take(t0)).toEqual({ ok: true, remainingToday: 0 });
    expect(meter.take(t0)).toEqual({ ok: false, reason: 'quota', retryAfterSeconds: 23 * 3600 });
    expect(meter.take(21 * DAY).ok).toBe(true);
  });
});

describe('eventsAnswer', () => {
  it('answers per event by position, with edge codes instead of Kinesis messages', () => {
    const answer = eventsAnswer(
      { FailedRecordCount: 2, Records: [{ SequenceNumber: '1', ShardId: 's' }, { ErrorCode: 'ProvisionedThroughputExceededException' }, { ErrorCode: 'InternalFailure' }] },
      'req-1',
    );
    expect(answer).toEqual({
      request_id: 'req-1',
      accepted: 1,
      rejected: 2,
      results: [
        { index: 0, accepted: true },
        { index: 1, accepted: false, error_code: 'throttled' },
        { index: 2, accepted: false, error_code: 'internal_error' },
      ],
    });
  });
});

describe('the envelope', () => {
  it('keeps edge refusals as they are and internals out of 5xx', () => {
    const refused = edgeErrorAnswer(new EdgeError('too_many_requests', 'slow down', undefined, { 'retry-after': '2' }), 'r1');
    expect(refused).toEqual({ status: 429, clientError: true, body: { error: { code: 'too_many_requests', message: 'slow down', request_id: 'r1' } } });
    const invalid = edgeErrorAnswer(new ValidationError('labels.0.label: must be 0 or 1', 'labels.0.label'), 'r2');
    expect(invalid.body.error).toMatchObject({ code: 'validation_error', field: 'labels.0.label' });
    const internal = edgeErrorAnswer(new ResourceError('fathom-online-store: arn:aws:dynamodb:… exploded', 'fathom-online-store', false), 'r3');
    expect(internal.status).toBe(500);
    expect(JSON.stringify(internal.body)).not.toMatch(/fathom-online-store|arn:/);
    expect(gatewayError('INTEGRATION_FAILURE').status).toBe(502);
  });

  it('gives every gateway response a template that is the envelope', () => {
    for (const type of Object.keys(GATEWAY_RESPONSES) as (keyof typeof GATEWAY_RESPONSES)[]) {
      const body = JSON.parse(gatewayResponseTemplate(type).replace('$context.requestId', 'abc')) as unknown;
      expect(ErrorEnvelopeSchema.parse(body).error.code).toBe(GATEWAY_RESPONSES[type].code);
    }
  });
});

describe('request parsing', () => {
  it('names the field of a body or a path parameter', () => {
    const r = parseJsonBody(LabelsRequestSchema, '{"labels":[{"event_id":"e","label":1,"labeled_at":"nope"}]}');
    expect(!r.ok && r.error.field).toBe('labels.0.labeled_at');
    expect(!parseJsonBody(LabelsRequestSchema, '[').ok).toBe(true);
    const p = parseEntityIdParam('a/b');
    expect(!p.ok && p.error.field).toBe('entity_id');
  });
});

describe('views', () => {
  it('gives features their age, and models without locations or actors', () => {
    expect(featuresView({ requestId: 'r', entityId: 'c', featureSet: 'card_fraud.v1', features: { f: 1 }, asOf: 1_000_000, updatedAt: 'u', now: 1_060_000 })).toMatchObject({
      as_of: new Date(1_000_000).toISOString(),
      age_seconds: 60,
    });
    const record: ModelVersionRecord = {
      name: 'm' as ModelName,
      version: '1' as ModelVersion,
      state: 'production',
      tier: 'cpu',
      featureSet: 'card_fraud.v1',
      registeredAt: '2026-01-01T00:00:00Z',
      metrics: { rows: 1, positives: 1, roc_auc: 0.9, pr_auc: 0.5, recall_at_1pct_fpr: 0.4, log_loss: 0.2, ece: 0.01 },
      location: { manifestKey: 'models/m/1/manifest.json', modelKey: 'models/m/1/model.onnx', modelVersionId: 'v' },
      transitions: [{ from: null, to: 'candidate', actor: 'alice', reason: 'r', at: '2026-01-01T00:00:00Z' }],
    };
    const [view] = modelViews([record]);
    expect(view!.production_version).toBe('1');
    expect(JSON.stringify(view)).not.toMatch(/models\/|alice|location/);
  });
});
