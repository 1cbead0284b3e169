// `npm start` gives a scoring API with no other step: the CLI starts the platform with the local
// API on a free port, bootstraps a production model, prints the API's address and keys; `fathom
// token` prints a token; and over HTTP, events sent to /v1/events show up in /v1/features and a
// score carries the bootstrapped model's version. A second start on the same data dir keeps the
// model (no training) and the API key.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const children: ChildProcess[] = [];
let dataDir: string | undefined;

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

interface Running {
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with stderr once it matches. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

function start(args: readonly string[]): Running {
  const child = spawn('npx', ['tsx', 'bin/fathom.ts', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    for (const w of watchers) w();
  });
  const exited = new Promise<number | null>((resolveExit) => child.on('close', (code) => resolveExit(code)));
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolveWait, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
        const check = () => {
          if (pattern.test(stderr)) {
            clearTimeout(timer);
            resolveWait(stderr);
          }
        };
        watchers.push(check);
        void exited.then(() => {
          clearTimeout(timer);
          if (!pattern.test(stderr)) reject(new Error(`exited before ${pattern}:\n${stderr}`));
        });
        check();
      }),
  };
}

/** Ctrl-C to the whole group (npx → tsx → node), as a terminal sends it; resolves once the platform said it stopped and the group is gone. */
async function stop(run: Running): Promise<string> {
  process.kill(-run.child.pid!, 'SIGINT');
  await run.exited;
  return run.stderr();
}

async function token(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = start(['token', ...args]);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const event = (i: number) => ({
  event_id: `e2e-api-${i}`,
  entity_id: 'card-e2e-api',
  merchant_id: 'm-e2e',
  amount: 100 + i,
  currency: 'EUR',
  mcc: 5812,
  country: 'FR',
  channel: 'ecom',
  event_time: new Date(Date.UTC(2026, 3, 1, 9, i)).toISOString(),
});

describe('npm start serves the API', () => {
  it('bootstraps a model, prints keys, and serves events → features → score with a CLI token', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fathom-api-start-'));
    const first = start(['local', '--events', '200', '--data-dir', dataDir, '--port-api', '0']);
    const banner = await first.waitFor(/Ctrl-C stops it/, 100_000);
    expect(banner).toMatch(/registered and promoted to production/);
    const url = /api (http:\/\/127\.0\.0\.1:\d+)\/v1:/.exec(banner)?.[1];
    const version = /model card-fraud version (\S+) in production/.exec(banner)?.[1];
    const key = /\n {4}default \[standard: 50 req\/s, burst 100, 1000000\/day\] (\S+)/.exec(banner)?.[1];
    expect(url && version && key, banner).toBeTruthy();

    const issued = await token(['--client', 'default', '--scopes', 'score,ingest,read', '--data-dir', dataDir]);
    expect(issued.code, issued.stderr).toBe(0);
    const bearer = issued.stdout.trim();
    expect(bearer.split('.')).toHaveLength(3);
    const headers = { authorization: `Bearer ${bearer}`, 'x-api-key': key!, 'content-type': 'application/json' };

    const sent = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ events: [0, 1, 2].map(event) }) });
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ accepted: 3, rejected: 0 });

    let features: { features: Record<string, number>; as_of: string } | undefined;
    for (let i = 0; i < 100 && !features; i++) {
      const r = await fetch(`${url}/v1/features/card-e2e-api`, { headers });
      const body = (await r.json()) as { features: Record<string, number>; as_of: string };
      if (r.status === 200 && body.features['card_txn_count_24h'] === 3) features = body;
      else await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    expect(features?.as_of).toBe(event(2).event_time);

    const scored = await fetch(`${url}/v1/score`, { method: 'POST', headers, body: JSON.stringify({ event: event(3) }) });
    expect(scored.status).toBe(200);
    const answer = (await scored.json()) as { model: { name: string; version: string }; flagged: boolean; cold_start: boolean };
    expect(answer.model).toMatchObject({ name: 'card-fraud', version });
    expect(answer.cold_start).toBe(false);
    expect(typeof answer.flagged).toBe('boolean');

    // A scope the token lacks, through the same CLI: 403.
    const labelsRefused = await fetch(`${url}/v1/labels`, { method: 'POST', headers, body: JSON.stringify({ labels: [{ event_id: 'e', label: 1, labeled_at: '2026-04-01T00:00:00Z' }] }) });
    expect(labelsRefused.status).toBe(403);

    expect(await stop(first)).toContain('fathom local: stopping');
    expect(first.stdout()).toBe('');

    // Again on the same data dir: the model and the key are kept.
    const second = start(['local', '--events', '0', '--data-dir', dataDir, '--port-api', '0']);
    const again = await second.waitFor(/Ctrl-C stops it/, 60_000);
    expect(again).not.toMatch(/training one/);
    expect(again).toContain(`model card-fraud version ${version} in production`);
    expect(again).toContain(key!);
    expect(await stop(second)).toContain('fathom local: stopping');
  }, 150_000);

  it('fathom token refuses an unknown scope and a missing client, naming the flag', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fathom-api-token-'));
    const unknown = await token(['--client', 'x', '--scopes', 'score,admin', '--data-dir', dataDir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--scopes: unknown scope admin/);
    const missing = await token(['--scopes', 'score', '--data-dir', dataDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--client is required/);
    const json = await token(['--client', 'someone', '--scopes', 'fathom/read', '--ttl', '60', '--json', '--data-dir', dataDir]);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { client: string; scopes: string[]; expires_at: string; token: string };
    expect(parsed).toMatchObject({ client: 'someone', scopes: ['read'] });
    expect(Date.parse(parsed.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
  }, 60_000);
});
