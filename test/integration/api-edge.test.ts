// The local API over HTTP against the local platform (stand-ins, the feature-transform stream,
// the real handlers, a model bootstrapped into the registry): the data path — events in, features
// visible, a score with the model version, labels in the offline table — and every refusal of
// the edge in the one envelope: 400, 401, 403, 404, 405, 413, 415 and 429 (rate and daily quota).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTable, readRows } from '../../lib/adapters/iceberg';
import { ErrorEnvelopeSchema, MAX_BODY_BYTES, SCOPES, type Scope } from '../../lib/core/api/routes';
import { LABELS_TABLE } from '../../lib/core/offline/tables';
import { platformResources } from '../../lib/core/resources';
import { LocalIssuer, LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../lib/local/api/issuer';
import { startLocalPlatform, type LocalPlatform } from '../../lib/local/platform';
import { WAREHOUSE_DIR } from '../../lib/local/stand-ins';

let dir: string;
let platform: LocalPlatform;
let base: string;
const keyOf: Record<string, string> = {};
const restoreEnv: Array<() => void> = [];

beforeAll(async () => {
  for (const [name, value] of [['POWERTOOLS_LOG_LEVEL', 'ERROR'], ['POWERTOOLS_METRICS_DISABLED', 'true']] as const) {
    const previous = process.env[name];
    process.env[name] = value;
    restoreEnv.push(() => (previous === undefined ? delete process.env[name] : (process.env[name] = previous)));
  }
  dir = mkdtempSync(join(tmpdir(), 'fathom-api-edge-'));
  platform = await startLocalPlatform({
    dataDir: dir,
    persist: false,
    mapping: { maximumBatchingWindowMs: 50 },
    api: {
      port: 0,
      progress: () => undefined,
      settings: {
        tiers: {
          standard: { rateLimit: 50, burstLimit: 100, quotaPerDay: 1_000_000 },
          tight: { rateLimit: 2, burstLimit: 5, quotaPerDay: 1_000_000 },
          daily: { rateLimit: 100, burstLimit: 100, quotaPerDay: 3 },
        },
        clients: [
          { name: 'default', tier: 'standard', scopes: [...SCOPES] },
          { name: 'tight', tier: 'tight', scopes: [...SCOPES] },
          { name: 'daily', tier: 'daily', scopes: [...SCOPES] },
        ],
      },
    },
  });
  base = `${platform.api!.url}/v1`;
  for (const k of platform.api!.apiKeys) keyOf[k.client] = k.key;
});

afterAll(async () => {
  await platform?.stop();
  for (const restore of restoreEnv.splice(0)) restore();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tokenFor = async (scopes: readonly Scope[], client = 'default') => (await platform.api!.issuer.sign({ client, scopes })).token;

async function call(method: string, path: string, options: { body?: unknown; raw?: RequestInit['body']; headers?: Record<string, string>; scopes?: readonly Scope[]; key?: string; token?: string } = {}) {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.token ?? (await tokenFor(options.scopes ?? SCOPES))}`,
    'x-api-key': options.key ?? keyOf['default']!,
    'content-type': 'application/json',
    ...options.headers,
  };
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, unknown>, text };
}

/** The answer must be the envelope with this status and code (and field, when given), its request id the header's. */
function expectRefusal(r: Awaited<ReturnType<typeof call>>, status: number, code: string, field?: string) {
  expect(r.status, r.text).toBe(status);
  const envelope = ErrorEnvelopeSchema.parse(r.json);
  expect(envelope.error.code).toBe(code);
  if (field !== undefined) expect(envelope.error.field).toBe(field);
  expect(envelope.error.request_id).toBe(r.headers.get('x-amzn-requestid'));
  return envelope.error;
}

const event = (i: number, card: string, minutes = 0) => ({
  event_id: `edge-${card}-${i}`,
  entity_id: card,
  merchant_id: `m-edge-${i % 3}`,
  amount: 20 + i,
  currency: 'USD',
  mcc: 5411,
  country: 'US',
  channel: 'pos',
  event_time: new Date(Date.UTC(2026, 2, 1, 12, minutes + i)).toISOString(),
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the data path over HTTP', () => {
  it('events → features visible through GET /v1/features → score with the model version', async () => {
    const card = 'card-edge-1';
    const sent = await call('POST', '/events', { body: { events: [0, 1, 2, 3, 4].map((i) => event(i, card)) } });
    expect(sent.status, sent.text).toBe(200);
    expect(sent.json).toMatchObject({ accepted: 5, rejected: 0 });
    expect(sent.json['results']).toEqual([0, 1, 2, 3, 4].map((index) => ({ index, accepted: true })));
    expect(sent.json['request_id']).toBe(sent.headers.get('x-amzn-requestid'));

    const features = await until('features of all 5 events', async () => {
      const r = await call('GET', `/features/${card}`, { scopes: ['read'] });
      return r.status === 200 && (r.json['features'] as Record<string, number>)['card_txn_count_24h'] === 5 ? r.json : undefined;
    });
    expect(features).toMatchObject({ entity_id: card, feature_set: 'card_fraud.v1', as_of: event(4, card).event_time });
    expect(typeof features['updated_at']).toBe('string');
    expect(typeof features['age_seconds']).toBe('number');
    expect((features['features'] as Record<string, number>)['card_amount_sum_24h']).toBe(20 + 21 + 22 + 23 + 24);

    const scored = await call('POST', '/score', { body: { event: event(5, card) }, scopes: ['score'] });
    expect(scored.status, scored.text).toBe(200);
    expect(scored.json['model']).toEqual({ name: 'card-fraud', version: platform.api!.model.version, tier: 'cpu' });
    expect(typeof scored.json['flagged']).toBe('boolean');
    expect(scored.json['cold_start']).toBe(false);
    expect(scored.json['entity_state_age_seconds']).toBe(60);
    expect(scored.json['request_id']).toBe(scored.headers.get('x-amzn-requestid'));
  });

  it('labels land in the offline labels table, one row each', async () => {
    const labels = [
      { event_id: 'edge-card-edge-1-0', label: 0, labeled_at: '2026-03-02T00:00:00Z' },
      { event_id: 'edge-card-edge-1-1', label: 1, labeled_at: '2026-03-02T00:00:01Z' },
    ];
    const r = await call('POST', '/labels', { body: { labels }, scopes: ['label'] });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ accepted: 2, results: [{ index: 0, event_id: labels[0]!.event_id, accepted: true }, { index: 1, event_id: labels[1]!.event_id, accepted: true }] });
    const table = await openTable({ warehouse: join(dir, WAREHOUSE_DIR), database: platformResources().offlineStore.database }, LABELS_TABLE);
    const rows = await until('labels rows', async () => {
      const got = await readRows(table).catch(() => []);
      return got.length >= 2 ? got : undefined;
    });
    // The table keeps microseconds: the same instants, written out in full.
    const iso = (s: string) => new Date(s).toISOString();
    expect(rows.map((row) => ({ ...row, labeled_at: iso(row.labeled_at) })).sort((a, b) => a.event_id.localeCompare(b.event_id))).toEqual(labels.map((l) => ({ ...l, labeled_at: iso(l.labeled_at) })));
  });

  it('lists models with versions, states and metrics, and no internal locations', async () => {
    const list = await call('GET', '/models', { scopes: ['read'] });
    expect(list.status).toBe(200);
    const models = list.json['models'] as { name: string; production_version: string; versions: Record<string, unknown>[] }[];
    expect(models.map((m) => m.name)).toEqual(['card-fraud']);
    expect(models[0]!.production_version).toBe(platform.api!.model.version);
    expect(models[0]!.versions[0]).toMatchObject({ state: 'production', tier: 'cpu', feature_set: 'card_fraud.v1' });
    expect(Object.keys(models[0]!.versions[0]!['metrics'] as object)).toContain('roc_auc');
    expect((models[0]!.versions[0]!['transitions'] as { to: string; reason: string }[]).map((t) => `${t.to}:${t.reason}`)).toEqual(['candidate:bootstrap', 'staging:bootstrap', 'production:bootstrap']);
    const one = await call('GET', '/models/card-fraud', { scopes: ['read'] });
    expect(one.status).toBe(200);
    expect(one.json['name']).toBe('card-fraud');
    for (const text of [list.text, one.text]) {
      expect(text).not.toMatch(/models\/card-fraud\/|manifest\.json|model\.onnx|fathom-models|fathom-model-registry|location|actor|fathom-local/);
    }
  });

  it('serves the local issuer JWKS, which verifies its tokens', async () => {
    const jwks = createRemoteJWKSet(new URL(`${platform.api!.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(await tokenFor(['read']), jwks, { issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE });
    expect(payload['scope']).toBe('read');
  });
});

describe('refusals, in the envelope', () => {
  it('400 names the field: bad JSON, schema issues, path parameters, batch size', async () => {
    expectRefusal(await call('POST', '/score', { raw: '{"event":' }), 400, 'validation_error', 'body');
    expectRefusal(await call('POST', '/score', { raw: '' }), 400, 'validation_error', 'body');
    expectRefusal(await call('POST', '/score', { body: { event: { ...event(0, 'c'), amount: 'ten' } } }), 400, 'validation_error', 'event.amount');
    expectRefusal(await call('POST', '/score', { body: { event: { ...event(0, 'c'), extra: 1 } } }), 400, 'validation_error');
    expectRefusal(await call('POST', '/events', { body: { events: [event(0, 'c'), { ...event(1, 'c'), currency: 'usd' }] } }), 400, 'validation_error', 'events.1.currency');
    expectRefusal(await call('POST', '/events', { body: { events: Array.from({ length: 501 }, (_, i) => event(i, 'c')) } }), 400, 'validation_error', 'events');
    expectRefusal(await call('POST', '/labels', { body: { labels: [{ event_id: 'e', label: 2, labeled_at: '2026-03-01T00:00:00Z' }] } }), 400, 'validation_error', 'labels.0.label');
    expectRefusal(await call('GET', '/features/bad%20id', { scopes: ['read'] }), 400, 'validation_error', 'entity_id');
    expectRefusal(await call('GET', '/models/Not_A_Name', { scopes: ['read'] }), 400, 'validation_error', 'name');
    expectRefusal(await call('POST', '/score', { raw: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]) }), 400, 'bad_request', 'body');
  });

  it('401 without a token, with a malformed, tampered, expired or foreign one', async () => {
    const e = expectRefusal(await call('POST', '/score', { body: { event: event(0, 'c') }, headers: { authorization: '' } }), 401, 'unauthorized');
    expect(e.message).toMatch(/bearer token is required/);
    expectRefusal(await call('POST', '/score', { body: {}, headers: { authorization: 'Basic Zm9vOmJhcg==' } }), 401, 'unauthorized');
    const good = await tokenFor(['score']);
    const [h, p] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'score ingest label read' })).toString('base64url')}.${good.split('.')[2]}`;
    expect(expectRefusal(await call('POST', '/score', { body: {}, token: tampered }), 401, 'unauthorized').message).toMatch(/signature/);
    const expired = (await platform.api!.issuer.sign({ client: 'default', scopes: ['score'], ttlSeconds: 60, now: Date.now() - 3_600_000 })).token;
    expect(expectRefusal(await call('POST', '/score', { body: {}, token: expired }), 401, 'unauthorized').message).toMatch(/expired/);
    const otherDir = mkdtempSync(join(tmpdir(), 'fathom-other-issuer-'));
    try {
      const foreign = (await (await LocalIssuer.open(otherDir)).sign({ client: 'default', scopes: ['score'] })).token;
      expectRefusal(await call('POST', '/score', { body: {}, token: foreign }), 401, 'unauthorized');
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
    const r = await call('POST', '/score', { body: {}, token: 'not.a.jwt' });
    expectRefusal(r, 401, 'unauthorized');
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('403 for a missing scope, a missing or unknown API key', async () => {
    expect(expectRefusal(await call('POST', '/score', { body: { event: event(0, 'c') }, scopes: ['read', 'ingest'] }), 403, 'forbidden', 'scope').message).toMatch(/scope score/);
    expectRefusal(await call('GET', '/models', { scopes: ['score'] }), 403, 'forbidden', 'scope');
    expectRefusal(await call('POST', '/score', { body: { event: event(0, 'c') }, headers: { 'x-api-key': '' } }), 403, 'forbidden');
    expectRefusal(await call('POST', '/score', { body: { event: event(0, 'c') }, key: 'x'.repeat(32) }), 403, 'forbidden');
  });

  it('404 for an unknown route, entity or model; 405 with Allow for a known path', async () => {
    expectRefusal(await call('GET', '/nothing'), 404, 'not_found');
    expectRefusal(await call('POST', '/score/extra', { body: {} }), 404, 'not_found');
    expectRefusal(await call('GET', '/features/card-never-seen', { scopes: ['read'] }), 404, 'not_found', 'entity_id');
    expectRefusal(await call('GET', '/models/no-such-model', { scopes: ['read'] }), 404, 'not_found', 'name');
    expectRefusal(await call('POST', '/score', { body: { model: 'no-such-model', event: event(0, 'c') } }), 404, 'model_not_found', 'model');
    const r = await call('DELETE', '/models');
    expectRefusal(r, 405, 'method_not_allowed');
    expect(r.headers.get('allow')).toBe('GET');
  });

  it('413 for a body over the limit, with or without a content length', async () => {
    const big = new Uint8Array(MAX_BODY_BYTES + 1).fill(0x20);
    expectRefusal(await call('POST', '/events', { raw: big }), 413, 'payload_too_large', 'body');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 9; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        controller.close();
      },
    });
    const res = await fetch(`${base}/events`, { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json' } } as RequestInit);
    expect(res.status).toBe(413);
    ErrorEnvelopeSchema.parse(await res.json());
    // Exactly at the limit is not too large (it is refused for what it holds instead).
    expectRefusal(await call('POST', '/events', { raw: new Uint8Array(MAX_BODY_BYTES).fill(0x20) }), 400, 'validation_error', 'body');
  });

  it('415 for a content type other than JSON', async () => {
    expectRefusal(await call('POST', '/score', { raw: JSON.stringify({ event: event(0, 'c') }), headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type', 'content-type');
    expectRefusal(await call('POST', '/score', { raw: '{}', headers: { 'content-type': 'application/json; charset=latin1' } }), 415, 'unsupported_media_type');
    const ok = await call('POST', '/score', { body: { event: event(0, 'c') }, headers: { 'content-type': 'Application/JSON; charset=UTF-8' } });
    expect(ok.status, ok.text).toBe(200);
  });

  it('429 with Retry-After once a key spends its burst, and once it spends its daily quota', async () => {
    const token = await tokenFor(['read'], 'tight');
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await call('GET', '/models', { token, key: keyOf['tight']! });
      statuses.push(r.status);
      if (r.status === 429) refused ??= r;
    }
    // Burst 5 at 2/s: the first five pass, the rest of a quick loop mostly not.
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(refused, statuses.join(',')).toBeDefined();
    expectRefusal(refused!, 429, 'too_many_requests');
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const daily = await tokenFor(['read'], 'daily');
    for (let i = 0; i < 3; i++) expect((await call('GET', '/models', { token: daily, key: keyOf['daily']! })).status).toBe(200);
    const over = await call('GET', '/models', { token: daily, key: keyOf['daily']! });
    expectRefusal(over, 429, 'quota_exceeded');
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    // Other keys are not held to it.
    expect((await call('GET', '/models', { scopes: ['read'] })).status).toBe(200);
  });
});
