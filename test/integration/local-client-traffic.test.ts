// The simulated client of `npm start` against a recording HTTP server on 127.0.0.1: it paces its
// score requests, sends each label only once the replay's event time has reached it, in batches,
// resends what a 429 refused, and carries the API key and a bearer token on every call.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { GeneratedEvent } from '../../lib/core/generator';
import type { Event } from '../../lib/core/schemas/event';
import { ClientTraffic } from '../../lib/local/client-traffic';

interface Seen {
  readonly path: string;
  readonly body: { event?: { event_id: string }; labels?: { event_id: string; label: number; labeled_at: string }[] };
  readonly apiKey: string | undefined;
  readonly bearer: string | undefined;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** Answers 200 (a score answer for /score), or `status(path, n)` for the n-th call of a path. */
async function recorder(status: (path: string, n: number) => number = () => 200): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const calls = new Map<string, number>();
  server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/v1/, '');
      const n = (calls.get(path) ?? 0) + 1;
      calls.set(path, n);
      const code = status(path, n);
      if (code === 200) seen.push({ path, body: JSON.parse(text) as Seen['body'], apiKey: req.headers['x-api-key'] as string | undefined, bearer: req.headers.authorization });
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(code === 200 ? JSON.stringify(path === '/score' ? { flagged: true } : { accepted: 1 }) : JSON.stringify({ error: { code: 'throttled' } }));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v1`, seen };
}

const T0 = Date.parse('2026-03-01T00:00:00Z');
const HOUR = 3_600_000;

/** Event i at T0 + i hours; its label known `delayHours` later. */
function item(i: number, delayHours: number, label: 0 | 1 = 1): GeneratedEvent {
  const event = { event_id: `e${i}`, entity_id: 'c1', merchant_id: 'm1', amount: 10, currency: 'USD', mcc: 5411, country: 'US', channel: 'pos', event_time: new Date(T0 + i * HOUR).toISOString() } as Event;
  return { event, label, fraud_pattern: null, label_available_at: new Date(T0 + (i + delayHours) * HOUR).toISOString() };
}

const issuer = { sign: async () => ({ token: 'tok', client: 'default', scopes: [], expiresAt: Date.now() / 1000 + 3600 }) };

describe('ClientTraffic', () => {
  it('sends each label once the replay’s event time has passed it, in batches, and reports the rest as not yet known', async () => {
    const { url, seen } = await recorder();
    const traffic = new ClientTraffic({ baseUrl: url, client: 'default', apiKey: 'key-1', issuer, scoresPerSecond: 0, labelBatch: 2 });
    // Delays: e0 +1 h, e1 +5 h, e2 +1 h, e3 +100 h, e4 +1 h, e5 +1 h.
    const delays = [1, 5, 1, 100, 1, 1];
    for (const [i, d] of delays.entries()) await traffic.before(item(i, d));
    const stats = await traffic.finish(T0 + 6 * HOUR);
    const batches = seen.filter((s) => s.path === '/labels').map((s) => s.body.labels!.map((l) => l.event_id));
    // By e4's time (hour 4) e0 (known at 1 h) and e2 (3 h) are known: the first full batch.
    expect(batches[0]).toEqual(['e0', 'e2']);
    expect(batches.flat().sort()).toEqual(['e0', 'e1', 'e2', 'e4', 'e5']);
    expect(batches.every((b) => b.length <= 2)).toBe(true);
    expect(stats).toMatchObject({ labels_sent: 5, label_failures: 0, labels_not_yet_known: 1, scored: 0 });
    const sent = seen.find((s) => s.path === '/labels')!;
    expect(sent.apiKey).toBe('key-1');
    expect(sent.bearer).toBe('Bearer tok');
    expect(sent.body.labels![0]).toEqual({ event_id: 'e0', label: 1, labeled_at: new Date(T0 + HOUR).toISOString() });
  });

  it('scores at most its pace: a token per 1/rate seconds of its clock', async () => {
    const { url, seen } = await recorder();
    let now = 0;
    const traffic = new ClientTraffic({ baseUrl: url, client: 'default', apiKey: 'k', issuer, scoresPerSecond: 10, labels: false, now: () => now });
    // 100 events over 2 s of the client's clock: 1 at the start, then 10 per second.
    for (let i = 0; i < 100; i++) {
      now = i * 20;
      await traffic.before(item(i, 1));
    }
    const stats = await traffic.finish(T0 + 100 * HOUR);
    expect(stats.scored).toBe(seen.filter((s) => s.path === '/score').length);
    expect(stats.scored).toBeGreaterThanOrEqual(19);
    expect(stats.scored).toBeLessThanOrEqual(21);
    expect(stats.flagged).toBe(stats.scored);
    expect(seen.filter((s) => s.path === '/labels')).toEqual([]);
  });

  it('resends what a 429 refused, and counts a call that keeps failing without stopping', async () => {
    const { url, seen } = await recorder((path, n) => (path === '/labels' && n === 1 ? 429 : path === '/score' ? 503 : 200));
    const lines: string[] = [];
    const traffic = new ClientTraffic({ baseUrl: url, client: 'default', apiKey: 'k', issuer, scoresPerSecond: 1000, maxAttempts: 2, log: (l) => lines.push(l) });
    await traffic.before(item(0, 1));
    const stats = await traffic.finish(T0 + 2 * HOUR);
    expect(seen.filter((s) => s.path === '/labels').map((s) => s.body.labels!.map((l) => l.event_id))).toEqual([['e0']]);
    expect(stats).toMatchObject({ labels_sent: 1, label_failures: 0, scored: 0, score_failures: 1 });
    expect(lines).toEqual([expect.stringContaining('score request for e0 failed: POST /score answered 503')]);
  });
});
