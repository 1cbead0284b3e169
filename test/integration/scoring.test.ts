// The scoring handler as Lambda runs it, against the stand-ins: the environment set first, the
// module loaded second; a real registry (dynalite + s3rver, packages signed with the local key);
// real models trained here and exported by the project's exporter, scored by onnxruntime; the
// online store written as the stream writes it. Then a promotion during a loop of requests, with
// the package download slowed by a proxy so the load is long and measurable.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import { ModelRegistry } from '../../lib/adapters/registry/model-registry';
import { PackageVerifier } from '../../lib/adapters/registry/verifier';
import type { ModelCache } from '../../lib/adapters/scoring/model-cache';
import { FeatureEngine, IncrementalDriver, referenceFeatureSet, runBatch, serializeCard, serializeMerchant } from '../../lib/core/features';
import type { Event } from '../../lib/core/schemas/event';
import type { ModelName, ModelVersion } from '../../lib/core/models/manifest';
import { contributions, topReasons } from '../../lib/core/models/contributions';
import { predictProbability } from '../../lib/core/models/tree-ensemble';
import { packageKeys } from '../../lib/core/registry/keys';
import { ENV, platformResources } from '../../lib/core/resources';
import type { ScoreResponse } from '../../lib/core/scoring';
import { localAwsEnvironment, localClients, type LocalClients } from '../../lib/local/aws-clients';
import { provision, provisionRegistry } from '../../lib/local/provision';
import { startStandIns, WAREHOUSE_DIR, type StandIns } from '../../lib/local/stand-ins';
import { openTable, readRows } from '../../lib/adapters/iceberg';
import { PREDICTIONS_TABLE } from '../../lib/core/offline/tables';
import { manifestOf, trainScoringModel, type TrainedModel } from '../support/scoring-model';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const MODEL = 'card-fraud' as ModelName;
const GPU_MODEL = 'card-fraud-gpu' as ModelName;
const ONNX_DELAY_MS = 2000;
const engine = new FeatureEngine(referenceFeatureSet);

let dir: string;
let standIns: StandIns;
let clients: LocalClients;
let admin: ModelRegistry;
let proxy: SlowS3Proxy;
let handler: Handler;
let modelCache: ModelCache;
let v1: TrainedModel;
let v2: TrainedModel;
let history: Event[];
const logLines: Record<string, unknown>[] = [];
const restoreEnv: Array<() => void> = [];

/** A proxy in front of s3rver that can hold every model.onnx download for a while: a slow network. */
interface SlowS3Proxy {
  readonly url: string;
  delayOnnx: boolean;
  onnxGets: number;
  close(): Promise<void>;
}

async function startSlowS3Proxy(upstream: string): Promise<SlowS3Proxy> {
  const target = new URL(upstream);
  const state = { delayOnnx: false, onnxGets: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const isOnnx = req.method === 'GET' && (req.url ?? '').split('?')[0]!.endsWith('/model.onnx');
    if (isOnnx) state.onnxGets++;
    const forward = () => {
      // Headers byte for byte, Host included: s3rver checks the SigV4 signature, which covers it.
      const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', () => res.writeHead(502).end());
      req.pipe(out);
    };
    if (isOnnx && state.delayOnnx) setTimeout(forward, ONNX_DELAY_MS);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

function setEnv(name: string, value: string | undefined): void {
  const previous = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  restoreEnv.push(() => {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  });
}

let invocations = 0;
function apiEvent(body: unknown): APIGatewayProxyEvent {
  const requestId = `req-${++invocations}`;
  return {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    httpMethod: 'POST',
    isBase64Encoded: false,
    path: '/score',
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    resource: '/score',
    requestContext: { requestId } as APIGatewayProxyEvent['requestContext'],
  };
}

function context(): Context {
  const fail = () => {
    throw new Error('not supported');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'fathom-scoring',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fathom-scoring',
    memoryLimitInMB: '1769',
    awsRequestId: `aws-${invocations}`,
    logGroupName: '/aws/lambda/fathom-scoring',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 10_000,
    done: fail,
    fail,
    succeed: fail,
  };
}

async function invoke(body: unknown): Promise<{ status: number; json: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await handler(apiEvent(body), context());
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown>, ms: performance.now() - started };
}

async function register(model: TrainedModel, name: ModelName, version: string, tier = 'cpu'): Promise<void> {
  await admin.register({ manifest: manifestOf(model, { name, version, tier }), onnx: model.onnx }, 'test', `trained ${version}`);
}

async function promote(name: ModelName, version: string): Promise<void> {
  await admin.promote(name, version as ModelVersion, 'staging', 'test', 'evaluated');
  await admin.promote(name, version as ModelVersion, 'production', 'test', 'go');
}

/** A new event of `card` one minute after its last one in the history. */
function nextEvent(card: string, overrides: Partial<Event> = {}): Event {
  const last = history.filter((e) => e.entity_id === card).at(-1)!;
  return { ...last, event_id: `req-${card}-${Math.random().toString(36).slice(2)}` as Event['event_id'], event_time: new Date(Date.parse(last.event_time) + 60_000).toISOString(), ...overrides };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fathom-scoring-'));
  standIns = await startStandIns({ dataDir: dir, persist: false });
  clients = localClients(standIns.endpoints);
  const resources = platformResources('test');
  const [store, reg] = await Promise.all([provision(clients, resources), provisionRegistry(clients, resources, dir)]);
  admin = new ModelRegistry({
    dynamodb: clients.dynamodb,
    s3: clients.s3,
    tableName: reg.tableName,
    bucket: reg.bucket,
    signer: reg.signer,
    verifier: PackageVerifier.fromSetting(reg.signingKey),
  });

  // Two models of the same workload and feature set, trained on different samples.
  v1 = trainScoringModel({ seed: 5, events: 8000, trees: 40, maxDepth: 5 }, engine);
  v2 = trainScoringModel({ seed: 6, events: 8000, trees: 40, maxDepth: 5 }, engine);
  await register(v1, MODEL, '1');
  await register(v2, MODEL, '2');
  await register(v2, MODEL, '3');
  await promote(MODEL, '1');
  await register(v1, GPU_MODEL, '1', 'gpu-small');
  await promote(GPU_MODEL, '1');

  // The online store as the stream leaves it after v1's history: one item per card and merchant.
  history = v1.events.map((g) => g.event);
  const driver = new IncrementalDriver(engine);
  for (const e of history) driver.ingest({ ...e, ts: Date.parse(e.event_time) });
  driver.flush();
  const online = new DynamoOnlineStore({ client: clients.dynamodb, tableName: store.tableName });
  const writes = [
    ...[...driver.cards].map(([id, s]) => ({ pk: `card#${id}`, kind: 'card' as const, state: serializeCard(engine, s), features: engine.currentFeatures(s), asOf: s.maxTs })),
    ...[...driver.merchants].map(([id, m]) => ({ pk: `merchant#${id}`, kind: 'merchant' as const, state: serializeMerchant(engine, m), features: {}, asOf: m.maxTs })),
  ];
  for (let i = 0; i < writes.length; i += 25) {
    await Promise.all(writes.slice(i, i + 25).map((w) => online.put({ ...w, version: 1, featureSet: engine.version }, null)));
  }

  proxy = await startSlowS3Proxy(standIns.endpoints.s3);
  for (const [k, value] of Object.entries({ ...localAwsEnvironment(standIns.endpoints), AWS_ENDPOINT_URL_S3: proxy.url, ...reg.environment })) setEnv(k, value);
  setEnv(ENV.onlineStoreTable, store.tableName);
  // The stand-ins' Firehose endpoint serves the default prefix's delivery streams.
  setEnv(ENV.predictionsDeliveryStream, platformResources().offlineStore.deliveryStreams.predictions.name);
  setEnv(ENV.defaultModelName, MODEL);
  setEnv(ENV.modelRefreshSeconds, '1');
  setEnv('AWS_SESSION_TOKEN', undefined);
  setEnv('AWS_PROFILE', undefined);
  setEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  setEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  // The handler's structured logs (INFO to stdout, WARN and ERROR to stderr) are how a load
  // shows itself; they are collected here and kept off the test output.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (!text.startsWith('{"level":')) return write(chunk, ...(rest as []));
      for (const line of text.split('\n')) if (line.startsWith('{')) logLines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    });
  }
  const mod = (await import('../../lambdas/scoring/handler')) as { handler: Handler; modelCache: ModelCache };
  handler = mod.handler;
  modelCache = mod.modelCache;
}, 120_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await modelCache?.close();
  for (const restore of restoreEnv.splice(0).reverse()) restore();
  await proxy?.close();
  clients?.destroy();
  await standIns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const logs = (message: string) => logLines.filter((l) => l['message'] === message);

describe('scoring handler', () => {
  it('scores a known card with the production model: f(S, e) of the stream, onnxruntime’s score, reasons and version', async () => {
    const card = history.at(-1)!.entity_id;
    const event = nextEvent(card);
    const { status, json } = await invoke({ event });
    expect(status).toBe(200);
    const answer = json as unknown as ScoreResponse;
    expect(answer).toMatchObject({ model: { name: MODEL, version: '1', tier: 'cpu' }, cold_start: false, feature_set: 'card_fraud.v1', threshold: 0.5 });
    expect(answer.request_id).toMatch(/^req-/);
    expect(answer.entity_state_age_seconds).toBe(60);
    // The vector the batch driver logs for this event over the whole history, scored by the trainer's own model.
    const row = runBatch(engine, [...history, event].map((e) => ({ ...e, ts: Date.parse(e.event_time) }))).vectors.find((x) => x.eventId === event.event_id)!.values;
    expect(answer.score).toBeCloseTo(predictProbability(v1.ensemble, row), 6);
    expect(answer.flagged).toBe(answer.score >= 0.5);
    // The reasons the trainer's own ensemble gives for the float32 row the model read.
    const expected = topReasons(contributions(v1.ensemble, Float32Array.from(row)), engine.names, Float32Array.from(row), 3);
    expect(expected.length).toBeGreaterThan(0);
    expect(answer.reasons.map((r) => r.feature)).toEqual(expected.map((r) => r.feature));
    answer.reasons.forEach((r, k) => {
      expect(r.value).toBe(row[engine.names.indexOf(r.feature)]);
      expect(r.contribution).toBeGreaterThan(0);
      expect(r.contribution).toBeCloseTo(expected[k]!.contribution, 9);
    });
    expect(logs('model loaded')).toEqual([expect.objectContaining({ model: MODEL, version: '1', cold: true })]);

    // The answer's row in the offline `predictions` table (through the Firehose stand-in), with the exact vector scored.
    await standIns.flushFirehose();
    const warehouse = { warehouse: join(dir, WAREHOUSE_DIR), database: platformResources().offlineStore.database };
    const logged = (await readRows(await openTable(warehouse, PREDICTIONS_TABLE))).filter((r) => r.event_id === event.event_id);
    expect(logged).toEqual([
      {
        request_id: answer.request_id,
        event_id: event.event_id,
        entity_id: card,
        model_name: MODEL,
        model_version: '1',
        score: answer.score,
        decision: answer.flagged ? 'flagged' : 'passed',
        feature_set: 'card_fraud.v1',
        features: row.map((v) => (Number.isNaN(v) ? null : v)),
        event_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        scored_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    expect(Date.parse(logged[0]!.event_time)).toBe(Date.parse(event.event_time));
    expect(logs('prediction not logged')).toEqual([]);
  });

  it('scores an unknown card at an unknown merchant with cold-start features, not an error', async () => {
    const event = nextEvent(history[0]!.entity_id, { entity_id: 'card-never-seen' as Event['entity_id'], merchant_id: 'merchant-never-seen' as Event['merchant_id'] });
    const { status, json } = await invoke({ model: MODEL, event });
    expect(status).toBe(200);
    expect(json).toMatchObject({ cold_start: true, entity_state_age_seconds: null, model: { version: '1' } });
    const first = runBatch(engine, [{ ...event, ts: Date.parse(event.event_time) }]).vectors[0]!.values;
    expect(json['score']).toBeCloseTo(predictProbability(v1.ensemble, first), 6);
  });

  it.each([
    ['a negative amount', (e: Event) => ({ event: { ...e, amount: -5 } }), 'event.amount'],
    ['an unknown field', (e: Event) => ({ event: { ...e, colour: 'red' } }), 'event'],
    ['a bad timestamp', (e: Event) => ({ event: { ...e, event_time: 'yesterday' } }), 'event.event_time'],
    ['a malformed model name', (e: Event) => ({ model: 'Card Fraud', event: e }), 'model'],
    ['a body that is not JSON', () => '{"event": ', 'body'],
  ])('answers 400 naming the field for %s, with no internals', async (_what, body, field) => {
    const { status, json } = await invoke(body(nextEvent(history[0]!.entity_id)));
    expect(status).toBe(400);
    expect(json).toEqual({ error: { code: 'validation_error', message: expect.stringContaining(field), field, request_id: expect.stringMatching(/^req-/) } });
    expect(JSON.stringify(json)).not.toMatch(/arn:|at .*\(|\/work\/|node_modules/);
  });

  it('answers 501 tier_not_deployed for a model whose production version runs on a GPU tier', async () => {
    const { status, json } = await invoke({ model: GPU_MODEL, event: nextEvent(history[0]!.entity_id) });
    expect(status).toBe(501);
    expect(json['error']).toMatchObject({ code: 'tier_not_deployed', field: 'model', message: expect.stringContaining("tier 'gpu-small'") });
  });

  it('answers 404 model_not_found for a model with no production version', async () => {
    const { status, json } = await invoke({ model: 'no-such-model', event: nextEvent(history[0]!.entity_id) });
    expect(status).toBe(404);
    expect(json['error']).toMatchObject({ code: 'model_not_found', field: 'model' });
  });

  it('swaps to a promoted version during continuous requests: none fails, none waits on the load', async () => {
    const cards = [...new Set(history.map((e) => e.entity_id))].slice(0, 50);
    const results: { version: string; ms: number; at: number }[] = [];
    proxy.delayOnnx = true;
    const gets = proxy.onnxGets;
    const started = performance.now();
    let promotedAt = Infinity;
    let i = 0;
    // Sequential requests, as one execution environment receives them, until version 2 has
    // answered 20 times in a row (or 20 s pass).
    while (performance.now() - started < 20_000) {
      if (i === 20) {
        await promote(MODEL, '2');
        promotedAt = performance.now();
      }
      const { status, json, ms } = await invoke({ event: nextEvent(cards[i % cards.length]!) });
      expect(status, JSON.stringify(json)).toBe(200);
      results.push({ version: String((json['model'] as { version: string }).version), ms, at: performance.now() });
      i++;
      if (results.length >= 20 && results.slice(-20).every((r) => r.version === '2')) break;
    }
    proxy.delayOnnx = false;
    const versions = results.map((r) => r.version);
    const firstV2 = versions.indexOf('2');
    // Version 1 until the swap, version 2 after it: no answer from a half-loaded or released model, no flip back.
    expect(firstV2).toBeGreaterThan(20);
    expect(versions.slice(0, firstV2).every((v) => v === '1')).toBe(true);
    expect(versions.slice(firstV2).every((v) => v === '2')).toBe(true);
    // The load took at least the held download; the requests answered meanwhile did not wait for it.
    const loaded = logs('model loaded').find((l) => l['version'] === '2');
    expect(loaded?.['cold']).toBe(false);
    expect(Number(loaded?.['ms'])).toBeGreaterThanOrEqual(ONNX_DELAY_MS - 5);
    expect(results[firstV2]!.at - promotedAt).toBeGreaterThanOrEqual(ONNX_DELAY_MS);
    const during = results.filter((r) => r.at > promotedAt && r.at < results[firstV2]!.at);
    expect(during.length).toBeGreaterThan(10);
    const slowest = Math.max(...during.map((r) => r.ms));
    // The one request that overlaps the load's CPU-bound steps (ONNX import, session creation,
    // warm-up: they run on this thread) is slowed by them; none waits for the download.
    expect(slowest).toBeLessThan(ONNX_DELAY_MS / 4);
    expect(proxy.onnxGets - gets).toBe(1);
    expect(logs('model swapped')).toEqual([expect.objectContaining({ from: '1', to: '2' })]);
    console.log(`hot swap: ${results.length} requests, ${during.length} during the ${Math.round(Number(loaded?.['ms']))} ms load, slowest ${slowest.toFixed(1)} ms (${results.indexOf(during.find((r) => r.ms === slowest)!) - firstV2} from the first v2 answer), median ${[...results.map((r) => r.ms)].sort((a, b) => a - b)[results.length >> 1]!.toFixed(1)} ms`);
  });

  it('refuses a promoted version whose package was tampered with, and keeps serving the last good one', async () => {
    // Another model's bytes where version 3's model.onnx should be: the signed digest no longer matches.
    await clients.s3.send(new PutObjectCommand({ Bucket: process.env[ENV.modelBucket], Key: packageKeys(MODEL, '3' as ModelVersion).modelKey, Body: v1.onnx }));
    await promote(MODEL, '3');
    const until = performance.now() + 3_000;
    let n = 0;
    while (performance.now() < until) {
      const { status, json } = await invoke({ event: nextEvent(history[n++ % 50]!.entity_id) });
      expect(status).toBe(200);
      expect((json['model'] as { version: string }).version).toBe('2');
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = logs('model version refused').filter((l) => l['version'] === '3');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(refused[0])).toMatch(/digest|sha256|signature/i);
    expect(modelCache.servingVersion(MODEL)).toBe('2');
  });
});
