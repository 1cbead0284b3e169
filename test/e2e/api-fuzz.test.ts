// The local API under 5,000+ malformed requests (seeded, so a failure replays): random JSON, wrong
// types in otherwise valid bodies, huge and deeply nested bodies, invalid UTF-8, wrong content
// types, wrong methods and paths, broken tokens and keys, and bytes that are not HTTP at all.
// Every answer must be below 500, JSON, in the envelope with the request id of its header; and
// the platform must still serve a valid request afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorEnvelopeSchema, MAX_BODY_BYTES, SCOPES } from '../../lib/core/api/routes';
import { startLocalPlatform, type LocalPlatform } from '../../lib/local/platform';

const REQUESTS = 5_200;
const CONCURRENCY = 24;

let dir: string;
let platform: LocalPlatform;
let base: string;
let token: string;
let readOnlyToken: string;
let key: string;
let throttledKey: string;
/** What the local API reports about failed integrations. */
const logged: string[] = [];

const restoreEnv: Array<() => void> = [];

beforeAll(async () => {
  // The functions' own logs of 5,000 refusals would bury the test output: errors only.
  for (const [name, value] of [['POWERTOOLS_LOG_LEVEL', 'ERROR'], ['POWERTOOLS_METRICS_DISABLED', 'true']] as const) {
    const previous = process.env[name];
    process.env[name] = value;
    restoreEnv.push(() => (previous === undefined ? delete process.env[name] : (process.env[name] = previous)));
  }
  dir = mkdtempSync(join(tmpdir(), 'fathom-api-fuzz-'));
  platform = await startLocalPlatform({
    dataDir: dir,
    persist: false,
    api: {
      port: 0,
      log: (line) => logged.push(line),
      // A tier the fuzz cannot exhaust, beside one it exhausts at once (the 429 path).
      settings: {
        tiers: { fuzz: { rateLimit: 100_000, burstLimit: 100_000, quotaPerDay: 10_000_000 }, slow: { rateLimit: 1, burstLimit: 2, quotaPerDay: 1_000_000 } },
        clients: [
          { name: 'fuzz', tier: 'fuzz', scopes: [...SCOPES] },
          { name: 'slow', tier: 'slow', scopes: [...SCOPES] },
        ],
      },
      progress: () => undefined,
      maxEnvironments: 4,
    },
  });
  const api = platform.api!;
  base = api.url;
  token = (await api.issuer.sign({ client: 'fuzz', scopes: [...SCOPES] })).token;
  readOnlyToken = (await api.issuer.sign({ client: 'fuzz', scopes: ['read'] })).token;
  key = api.apiKeys.find((k) => k.client === 'fuzz')!.key;
  throttledKey = api.apiKeys.find((k) => k.client === 'slow')!.key;
});

afterAll(async () => {
  await platform?.stop();
  for (const restore of restoreEnv.splice(0)) restore();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** mulberry32: small, seeded, good enough to pick cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

type Rng = ReturnType<typeof prng>;

const validEvent = (i: number) => ({
  event_id: `fuzz-${i}`,
  entity_id: `card-fuzz-${i % 50}`,
  merchant_id: `m-${i % 20}`,
  amount: 42.5,
  currency: 'USD',
  mcc: 5411,
  country: 'US',
  channel: 'ecom',
  event_time: '2026-03-01T12:00:00Z',
});

const WEIRD_STRINGS = ['', ' ', '\u0000', '\ud800', '💳', 'a'.repeat(300), '../../etc/passwd', '<script>', '%00', 'null', '1e309', '-0', 'NaN', '\\', '"', '{}', 'ZZZ', 'usd', '2026-02-30T00:00:00Z', '2026-03-01 12:00:00'];
const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1e309 === Infinity ? 1e308 : 0, -1e308, 1e-320, 3.14, 2 ** 53 + 1, [], {}, [1, 2], { a: 1 }, ...WEIRD_STRINGS];

function randomJson(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 4 ? 4 : 7);
  switch (k) {
    case 0:
      return r.pick(WEIRD_VALUES);
    case 1:
      return r.next() * 1e6 - 5e5;
    case 2:
      return r.pick(WEIRD_STRINGS);
    case 3:
      return r.int(2) === 0;
    case 4:
      return Array.from({ length: r.int(5) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = ['event', 'events', 'labels', 'model', 'amount', 'entity_id', 'label', '__proto__', 'constructor', r.pick(WEIRD_STRINGS)];
      for (let i = r.int(5); i > 0; i--) o[r.pick(keys)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

/** A valid body with one field replaced, removed or added. */
function mutated(r: Rng, i: number): { path: string; body: unknown } {
  const event: Record<string, unknown> = validEvent(i);
  const fields = Object.keys(event);
  const field = r.pick(fields);
  const how = r.int(4);
  if (how === 0) delete event[field];
  else if (how === 1) event[field] = r.pick(WEIRD_VALUES);
  else if (how === 2) event[r.pick(['extra', 'Amount', 'entityId', '__proto__'])] = r.pick(WEIRD_VALUES);
  else event[field] = randomJson(r);
  switch (r.int(4)) {
    case 0:
      return { path: '/v1/score', body: { event } };
    case 1:
      return { path: '/v1/score', body: { model: r.pick(['card-fraud', 'nope', 'Card', '', 7, null, 'a'.repeat(80)]), event: validEvent(i) } };
    case 2:
      return { path: '/v1/events', body: { events: r.int(3) === 0 ? Array.from({ length: 501 }, (_, j) => validEvent(j)) : [event] } };
    default:
      return { path: '/v1/labels', body: { labels: [{ event_id: r.pick(['e1', '', 5, null]), label: r.pick([0, 1, 2, '1', true, null, 0.5]), labeled_at: r.pick(['2026-03-01T00:00:00Z', 'yesterday', 0]) }] } };
  }
}

function deepNest(r: Rng): string {
  const depth = r.pick([100, 1000, 10_000, 100_000]);
  const style = r.int(3);
  if (style === 0) return '['.repeat(depth) + ']'.repeat(depth);
  if (style === 1) return '{"event":'.repeat(depth) + '1' + '}'.repeat(depth);
  return `{"event":{"amount":${'['.repeat(depth)}1${']'.repeat(depth)}}}`;
}

const INVALID_UTF8: readonly number[][] = [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xf0, 0x28, 0x8c, 0xbc], [0x80], [0xe2, 0x82]];

/** Percent-encoded, a lone surrogate as the (invalid UTF-8) bytes it would be. */
function pathSegment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

interface Case {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array | string;
  /** Send the body chunked (no content-length). */
  readonly chunked?: boolean;
}

function makeCase(r: Rng, i: number): Case {
  const auth = { authorization: `Bearer ${token}`, 'x-api-key': key };
  const json = { ...auth, 'content-type': 'application/json' };
  const enc = new TextEncoder();
  switch (r.int(10)) {
    case 0:
      return { method: 'POST', path: r.pick(['/v1/score', '/v1/events', '/v1/labels']), headers: json, body: JSON.stringify(randomJson(r)) };
    case 1:
    case 2: {
      const m = mutated(r, i);
      return { method: 'POST', path: m.path, headers: json, body: JSON.stringify(m.body) };
    }
    case 3: {
      // Huge: past the limit, random filler, sometimes chunked.
      const size = MAX_BODY_BYTES + 1 + r.int(3 * MAX_BODY_BYTES);
      const body = new Uint8Array(size).fill(0x5b);
      return { method: 'POST', path: r.pick(['/v1/score', '/v1/events', '/v1/nowhere']), headers: json, body, chunked: r.int(2) === 0 };
    }
    case 4:
      return { method: 'POST', path: r.pick(['/v1/score', '/v1/events', '/v1/labels']), headers: json, body: deepNest(r) };
    case 5: {
      const valid = enc.encode(JSON.stringify({ event: { ...validEvent(i), merchant_id: 'm-XX' } }));
      const bad = r.pick(INVALID_UTF8);
      const at = valid.indexOf(0x58); // the first X of m-XX
      const out = new Uint8Array(valid.length + bad.length);
      out.set(valid.subarray(0, at));
      out.set(bad, at);
      out.set(valid.subarray(at), at + bad.length);
      return { method: 'POST', path: '/v1/score', headers: json, body: r.int(4) === 0 ? Uint8Array.from(Array.from({ length: 64 }, () => r.int(256))) : out };
    }
    case 6:
      return {
        method: 'POST',
        path: r.pick(['/v1/score', '/v1/events', '/v1/labels']),
        headers: { ...auth, 'content-type': r.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'json', '*/*', 'application/jsonp']) },
        body: JSON.stringify({ event: validEvent(i) }),
      };
    case 7:
      return {
        method: r.pick(['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'POST']),
        path: r.pick(['/', '/v1', '/v1/', '/v2/score', '/v1/score/x', '/v1/features', '/v1/features/%zz', '/v1/features/a%2Fb', `/v1/features/${'x'.repeat(300)}`, '/v1/models/UPPER', '/v1/models/%E0%A4%A', '/v1/models/a/b', '/V1/SCORE', '/v1//score', `/v1/features/card-${r.int(100)}?x=1&x=2`, '/v1/models?name=%00', '/v1/../v1/models', '/.well-known/jwks.json']),
        headers: json,
        ...(r.int(2) === 0 ? { body: JSON.stringify(randomJson(r)) } : {}),
      };
    case 8: {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const which = r.int(7);
      if (which === 0) headers['x-api-key'] = key;
      else if (which === 1) Object.assign(headers, { authorization: `Bearer ${token.slice(0, -3)}abc`, 'x-api-key': key });
      else if (which === 2) Object.assign(headers, { authorization: r.pick(['Bearer', 'Basic Zm9vOmJhcg==', `bearer ${token} extra`, 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Token ${token}`, 'Bearer ' + 'A'.repeat(2000)]), 'x-api-key': key });
      else if (which === 3) Object.assign(headers, { authorization: `Bearer ${token}` });
      else if (which === 4) Object.assign(headers, { authorization: `Bearer ${token}`, 'x-api-key': r.pick(['', 'nope', key.slice(1), key + 'x']) });
      else if (which === 5) Object.assign(headers, { authorization: `Bearer ${readOnlyToken}`, 'x-api-key': key });
      else Object.assign(headers, { authorization: `Bearer ${token}`, 'x-api-key': throttledKey });
      return { method: 'POST', path: '/v1/score', headers, body: JSON.stringify({ event: validEvent(i) }) };
    }
    default:
      return r.int(2) === 0
        ? { method: 'GET', path: `/v1/features/${pathSegment(r.pick([...WEIRD_STRINGS, `card-fuzz-${r.int(60)}`]))}`, headers: auth }
        : { method: 'GET', path: `/v1/models/${pathSegment(r.pick(['card-fraud', 'nope', ...WEIRD_STRINGS]))}`, headers: auth };
  }
}

interface Outcome {
  readonly status: number;
  readonly problem?: string;
}

async function send(c: Case): Promise<Outcome> {
  let body: RequestInit['body'] = c.body;
  let duplex: 'half' | undefined;
  if (c.chunked && c.body !== undefined) {
    const bytes = typeof c.body === 'string' ? new TextEncoder().encode(c.body) : c.body;
    body = new ReadableStream({
      start(controller) {
        for (let o = 0; o < bytes.length; o += 64 * 1024) controller.enqueue(bytes.subarray(o, o + 64 * 1024));
        controller.close();
      },
    });
    duplex = 'half';
  }
  const init: RequestInit & { duplex?: 'half' } = { method: c.method, headers: c.headers, ...(body !== undefined && c.method !== 'GET' ? { body } : {}), ...(duplex ? { duplex } : {}) };
  const res = await fetch(base + c.path, init);
  const text = await res.text();
  if (res.status >= 500) return { status: res.status, problem: `5xx: ${text.slice(0, 300)}` };
  if (!(res.headers.get('content-type') ?? '').startsWith('application/json')) return { status: res.status, problem: `content-type ${res.headers.get('content-type')}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: res.status, problem: `not JSON: ${text.slice(0, 200)}` };
  }
  if (res.status >= 400) {
    const parsed = ErrorEnvelopeSchema.safeParse(json);
    if (!parsed.success) return { status: res.status, problem: `not the envelope: ${text.slice(0, 300)}` };
    if (parsed.data.error.request_id !== res.headers.get('x-amzn-requestid')) return { status: res.status, problem: 'request_id differs from x-amzn-requestid' };
    if (/arn:aws|fathom-online-store|fathom-model|at .*\.ts:\d+|Error:/.test(text)) return { status: res.status, problem: `internal detail leaked: ${text.slice(0, 300)}` };
  }
  return { status: res.status };
}

/** Bytes that are not a valid HTTP/1.1 request, straight onto a socket. */
function sendRaw(bytes: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(bytes);
    setTimeout(() => socket.end(), 200);
  });
}

describe('local API fuzz', () => {
  it(`answers ${REQUESTS} malformed requests below 500, each in the envelope, and keeps serving`, async () => {
    const r = prng(20260301);
    const cases = Array.from({ length: REQUESTS }, (_, i) => makeCase(r, i));
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const i = next++;
          const c = cases[i]!;
          try {
            const o = await send(c);
            statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
            if (o.problem) problems.push(`#${i} ${c.method} ${c.path}: ${o.problem}`);
          } catch (error) {
            problems.push(`#${i} ${c.method} ${c.path}: request failed: ${(error as Error).message} ${String((error as Error).cause ?? '')}`);
          }
        }
      }),
    );

    const raw = ['GARBAGE\r\n\r\n', 'POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'];
    for (const bytes of raw) {
      const answer = await sendRaw(bytes);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(ErrorEnvelopeSchema.safeParse(JSON.parse(body)).success, answer).toBe(true);
    }

    expect(problems.slice(0, 20)).toEqual([]);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(REQUESTS);
    // Every kind of refusal was met, so the cases reached every check.
    for (const status of [400, 401, 403, 404, 405, 413, 415, 429]) expect(statuses.get(status) ?? 0, `status ${status} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    // No integration failed behind a 4xx either.
    expect(logged).toEqual([]);

    // Still serving.
    const ok = await fetch(`${base}/v1/score`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ event: validEvent(999_999) }),
    });
    expect(ok.status).toBe(200);
    const answer = (await ok.json()) as { model: { version: string }; flagged: boolean };
    expect(answer.model.version).toBe(platform.api!.model.version);
    expect(typeof answer.flagged).toBe('boolean');
  }, 90_000);
});
