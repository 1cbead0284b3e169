// API benchmark (`npm run bench -- api [--rates 50,200,500] [--seconds 5]`): POST /v1/score on
// the local API (JWT check, API key and usage plan, body validation, the proxy event, the scoring
// handler in its execution environment, the online store on dynalite) at fixed request rates,
// p50/p95/p99 and errors per rate; beside it, in the same run and the same server process, the
// bare scoring handler called in-process with the same proxy events. The difference is what the
// HTTP layer and the edge's checks cost.
//
// Two load generators, each at every rate:
// - `paced`: open loop, one request every 1/rate s on a pool of keep-alive connections, latency
//   from each request's send; what a steady stream of clients sees.
// - `autocannon`: its `overallRate` gives each connection a budget per second that it spends at
//   once, back to back, at the start of every second, so its figures are those of one-second
//   bursts of `connections` concurrent requests (latency includes queueing behind the burst).
// The server runs in a child process (test/bench/api-server.ts), so neither generator shares its
// event loop.
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { BaselineMessage, ReadyMessage } from './api-server';

const log = (s: string) => process.stderr.write(`[bench api] ${s}\n`);

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const ms = (x: number) => Math.round(x * 1000) / 1000;

function summary(samples: readonly number[]) {
  const s = Float64Array.from(samples).sort();
  if (s.length === 0) return { n: 0, p50_ms: null, p95_ms: null, p99_ms: null, max_ms: null };
  return { n: s.length, p50_ms: ms(percentile(s, 0.5)), p95_ms: ms(percentile(s, 0.95)), p99_ms: ms(percentile(s, 0.99)), max_ms: ms(s[s.length - 1]!) };
}

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`the bench server exited (${code}) before ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function load(ready: ReadyMessage, rate: number, seconds: number, connections: number) {
  const samples: number[] = [];
  let i = 0;
  const instance = autocannon({
    url: `${ready.url}/v1/score`,
    connections,
    overallRate: rate,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ready.token}`, 'x-api-key': ready.key },
        setupRequest: (request) => ({ ...request, body: ready.bodies[i++ % ready.bodies.length]! }),
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => samples.push(responseTime));
  const result = await instance;
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  return {
    rate_rps: rate,
    seconds,
    connections,
    requests: result.requests.total,
    achieved_rps: Math.round((result.requests.total / result.duration) * 10) / 10,
    ...summary(samples),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One request every 1000/rate ms for `seconds`, whether or not earlier ones have answered. */
async function paced(ready: ReadyMessage, rate: number, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(`${ready.url}/v1/score`);
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let maxLagMs = 0;
  const send = (body: string) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${ready.token}`, 'x-api-key': ready.key },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            samples.push(performance.now() - started);
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now() + 20;
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait >= 1) await sleep(wait);
    maxLagMs = Math.max(maxLagMs, performance.now() - due);
    inFlight.push(send(ready.bodies[i % ready.bodies.length]!));
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  const non2xx = Object.entries(statuses).reduce((n, [code, count]) => n + (code.startsWith('2') ? 0 : count), 0);
  return {
    rate_rps: rate,
    seconds,
    requests: total,
    achieved_rps: Math.round((total / elapsed) * 10) / 10,
    ...summary(samples),
    non2xx,
    errors,
    statuses,
    // How late the generator itself sent its latest request: above a few ms the figures understate queueing.
    max_send_lag_ms: ms(maxLagMs),
  };
}

export async function run(opts: Record<string, string | undefined>) {
  const rates = (opts['rates'] ?? '50,200,500').split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r < 1)) throw new Error(`--rates must be positive integers separated by commas (got ${opts['rates']})`);
  const seconds = Number(opts['seconds'] ?? 5);
  const connections = 10;
  const events = Number(opts['events'] ?? 20_000);

  log(`starting the local platform and API in a child process (${events} workload events)`);
  const child = fork(fileURLToPath(new URL('./api-server.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_EVENTS: String(events) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await next<ReadyMessage>(child, 'ready');
    log(`API at ${ready.url}, model ${ready.model.name} ${ready.model.version}; warming up (3 s at 100 req/s, each generator)`);
    await paced(ready, 100, 3);
    await load(ready, 100, 3, connections);

    const byRate = [];
    const byRateAutocannon = [];
    for (const rate of rates) {
      log(`${rate} req/s for ${seconds} s, paced`);
      byRate.push(await paced(ready, rate, seconds));
      log(`${rate} req/s for ${seconds} s, autocannon`);
      byRateAutocannon.push(await load(ready, rate, seconds, connections));
    }

    log('the bare scoring handler in the server process, 5000 sequential calls');
    child.send({ type: 'baseline', n: 5000 });
    const baseline = await next<BaselineMessage>(child, 'baseline');
    const handler = { ...summary(baseline.samples), failures: baseline.failures };

    child.send({ type: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
    return {
      endpoint: 'POST /v1/score',
      model: ready.model,
      workload_events: ready.workloadEvents,
      request_bodies: ready.bodies.length,
      load_generators: {
        paced: 'open loop, evenly spaced sends, keep-alive connections (up to 64), separate process from the server',
        autocannon: `autocannon ${connections} connections, overallRate (per-connection budget released at the start of each second), separate process from the server`,
      },
      http_paced: byRate,
      http_autocannon: byRateAutocannon,
      handler_in_process: handler,
      // Time the HTTP layer and the edge's checks add at the median, per rate, under steady load.
      http_minus_handler_p50_ms: byRate.map((r) => ({ rate_rps: r.rate_rps, ms: r.p50_ms === null || handler.p50_ms === null ? null : ms(r.p50_ms - handler.p50_ms) })),
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
