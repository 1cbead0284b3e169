// The server side of the API benchmark, in its own process so the load generator does not share
// its event loop: the local platform with the local API (a bootstrapped model, a usage-plan tier
// the load cannot exhaust), the online store filled by replaying a generated workload through the
// stream, and score request bodies for known cards. Driven over IPC by test/bench/api.ts: it
// answers `ready` with the API's address, a key, a token and the bodies, and on `baseline` calls
// the scoring handler in this process (no HTTP) with the very proxy events the local API builds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ROUTES, SCOPES } from '../../lib/core/api/routes';
import { generateWorkload } from '../../lib/core/generator';
import { toProxyEvent } from '../../lib/local/api/proxy-event';
import { startLocalPlatform } from '../../lib/local/platform';
import { replayEvents } from '../../lib/local/replay';

export interface ReadyMessage {
  readonly type: 'ready';
  readonly url: string;
  readonly key: string;
  readonly token: string;
  readonly bodies: readonly string[];
  readonly model: { readonly name: string; readonly version: string | undefined };
  readonly workloadEvents: number;
}

export interface BaselineMessage {
  readonly type: 'baseline';
  /** Milliseconds per call, in call order. */
  readonly samples: readonly number[];
  readonly failures: number;
}

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
// The functions' own output would cost time in the measured path: errors only, no EMF blobs.
process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';
process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

const events = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const say = (s: string) => process.stderr.write(`[bench api server] ${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'fathom-bench-api-'));
const platform = await startLocalPlatform({
  dataDir: dir,
  persist: false,
  api: {
    port: 0,
    progress: say,
    settings: { tiers: { bench: { rateLimit: 1_000_000, burstLimit: 1_000_000, quotaPerDay: 1_000_000_000 } }, clients: [{ name: 'bench', tier: 'bench', scopes: [...SCOPES] }] },
  },
});
const api = platform.api!;

say(`replaying ${events} generated events into the stream`);
const workload = [...generateWorkload({ seed: 7, events })].map((g) => g.event);
await replayEvents({ kinesis: platform.clients.kinesis, streamName: platform.resources.streamName, partitionKeyField: platform.resources.partitionKeyField, events: workload });
await platform.poller.waitUntilIdle({ timeoutMs: 300_000 });

// Each card's last event again, a minute later under a new id: a known card at a known merchant.
const last = new Map<string, (typeof workload)[number]>();
for (const e of workload) last.set(e.entity_id, e);
const bodies = [...last.values()].slice(0, 2000).map((e, i) => JSON.stringify({ event: { ...e, event_id: `bench-${i}`, event_time: new Date(Date.parse(e.event_time) + 60_000).toISOString() } }));
const token = (await api.issuer.sign({ client: 'bench', scopes: ['score'], ttlSeconds: 3600 })).token;
const key = api.apiKeys[0]!.key;

async function baseline(n: number): Promise<BaselineMessage> {
  // The same module instance the local API's first execution environment runs.
  const { handler } = (await import('../../lambdas/scoring/handler')) as unknown as { handler: (e: APIGatewayProxyEvent, c: Context) => Promise<APIGatewayProxyResult> };
  const verified = await api.issuer.verifier().verify(token);
  const route = ROUTES.find((r) => r.path === '/score')!;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-api-key': key };
  const context = { awsRequestId: 'bench', functionName: 'fathom-scoring', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
  const eventFor = (i: number) =>
    toProxyEvent({ requestId: `bench-${i}`, route, params: {}, headers, query: new URLSearchParams(), body: bodies[i % bodies.length]!, token: verified, apiKey: { id: 'bench', value: key }, sourceIp: '127.0.0.1', receivedAt: Date.now() });
  let failures = 0;
  for (let i = 0; i < 500; i++) await handler(eventFor(i), context);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const event = eventFor(i);
    const t = performance.now();
    const result = await handler(event, context);
    samples.push(performance.now() - t);
    if (result.statusCode !== 200) failures++;
  }
  return { type: 'baseline', samples, failures };
}

process.on('message', (message: { type: string; n?: number }) => {
  if (message.type === 'baseline') {
    void baseline(message.n ?? 5000).then((m) => process.send!(m));
  } else if (message.type === 'stop') {
    void platform.stop().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
process.send!({ type: 'ready', url: api.url, key, token, bodies, model: { name: api.model.name, version: api.model.version }, workloadEvents: events } satisfies ReadyMessage);
