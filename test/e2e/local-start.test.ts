// `npm start` end to end, as a user runs it: the CLI starts the embedded platform, replays a seeded
// workload through the real feature-transform handler, waits for the stream to drain and prints
// its summary as the last stdout line. A simulated client scores events and sends labels through
// the local API meanwhile, so all four offline tables fill as the traffic flows.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openTable, readRows } from '../../lib/adapters/iceberg';
import { generateWorkload } from '../../lib/core/generator';
import { EVENTS_TABLE, FEATURE_LOG_TABLE, LABELS_TABLE, PREDICTIONS_TABLE } from '../../lib/core/offline/tables';
import { platformResources } from '../../lib/core/resources';
import { WAREHOUSE_DIR } from '../../lib/local/stand-ins';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
let child: ChildProcess | undefined;
let dataDir: string | undefined;

afterEach(() => {
  // The CLI runs in its own process group: end the whole group if it outlived the test.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  child = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI; `onStderr` sees stderr as it grows (to act on what it says). */
function run(args: readonly string[], timeoutMs: number, onStderr?: (stderr: string) => void): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    // node itself (with tsx as a loader), not npx → tsx → node: `close` then means the process that
    // owns the platform has exited, not a wrapper that may leave before its child finished stopping.
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/fathom.ts', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => reject(new Error(`fathom local did not exit within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    proc.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

describe('npm start (fathom local)', () => {
  it('replays 2000 events through the platform and exits with a JSON summary', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fathom-start-'));
    const { code, stdout, stderr } = await run(['local', '--events', '2000', '--exit', '--data-dir', dataDir, '--port-api', '0'], 110_000);
    expect(code, stderr).toBe(0);

    const lines = stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines.at(-1) ?? '') as Record<string, unknown>;
    expect(Object.keys(summary)).toEqual(['events', 'features_written', 'dlq', 'duplicates_ignored', 'seconds']);
    expect(summary).toMatchObject({ events: 2000, features_written: 2000, dlq: 0, duplicates_ignored: 0 });
    expect(summary.seconds).toBeGreaterThan(0);

    // State went where it was told, and the platform released the directory on exit.
    for (const store of ['dynamodb', 'kinesis', 'sqs']) expect(existsSync(join(dataDir, store))).toBe(true);
    expect(existsSync(join(dataDir, 'platform.lock'))).toBe(false);

    // The four offline tables, as the traffic left them: every event; the stream's vectors; the
    // client's scores, each of a replayed event; and exactly the labels known by the last event.
    const client = /client scored (\d+) events \(\d+ flagged, 0 failed\), sent (\d+) labels \(0 failed/.exec(stderr);
    expect(client, stderr).not.toBeNull();
    const [scored, labelsSent] = [Number(client![1]), Number(client![2])];
    const warehouse = { warehouse: join(dataDir, WAREHOUSE_DIR), database: platformResources().offlineStore.database };
    const generated = [...generateWorkload({ seed: 42, events: 2000 })];
    const ids = new Set<string>(generated.map((g) => g.event.event_id));
    expect(new Set((await readRows(await openTable(warehouse, EVENTS_TABLE))).map((r) => r.event_id))).toEqual(ids);
    expect((await readRows(await openTable(warehouse, FEATURE_LOG_TABLE))).length).toBeGreaterThan(0);
    const predictions = await readRows(await openTable(warehouse, PREDICTIONS_TABLE));
    expect(scored).toBeGreaterThan(0);
    expect(predictions).toHaveLength(scored);
    for (const p of predictions) expect(ids.has(p.event_id)).toBe(true);
    const lastEvent = Math.max(...generated.map((g) => Date.parse(g.event.event_time)));
    const known = generated.filter((g) => Date.parse(g.label_available_at) <= lastEvent);
    expect(known.length).toBeGreaterThan(0);
    const labels = await readRows(await openTable(warehouse, LABELS_TABLE));
    expect(labels.length).toBe(labelsSent);
    expect(new Set(labels.map((l) => l.event_id))).toEqual(new Set(known.map((g) => g.event.event_id)));
  }, 120_000);

  it('counts a rerun into the same state by what that run did, not the sum of every run', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fathom-start-'));
    const args = ['local', '--events', '300', '--malformed', '3', '--score-rate', '0', '--exit', '--data-dir', dataDir, '--port-api', '0'];
    const summaryOf = (r: Run) => JSON.parse(r.stdout.trimEnd().split('\n').at(-1) ?? '') as Record<string, number>;
    const first = await run(args, 110_000);
    expect(first.code, first.stderr).toBe(0);
    expect(summaryOf(first)).toMatchObject({ events: 300, features_written: 300, dlq: 3, duplicates_ignored: 0 });

    // The same workload again, into the state the first run left (no --fresh): each event is either
    // recognised as a duplicate (within the 24 h dedupe horizon of its card's newest event) or,
    // older than that, applied again (see README, Limitations); the three malformed ones are
    // dead-lettered again. Every card's newest event is within the horizon, so some are recognised.
    const second = await run(args, 110_000);
    expect(second.code, second.stderr).toBe(0);
    const s2 = summaryOf(second);
    expect(s2).toMatchObject({ events: 300, dlq: 3 });
    expect(s2['duplicates_ignored']).toBeGreaterThan(0);
    expect(s2['features_written']! + s2['duplicates_ignored']!).toBeLessThanOrEqual(300);

    // --fresh starts from nothing, the offline store included: its events table holds this run's
    // 300 events alone, not the 900 of three runs.
    const third = await run([...args, '--fresh'], 110_000);
    expect(third.code, third.stderr).toBe(0);
    expect(summaryOf(third)).toMatchObject({ events: 300, features_written: 300, dlq: 3, duplicates_ignored: 0 });
    const warehouse = { warehouse: join(dataDir, WAREHOUSE_DIR), database: platformResources().offlineStore.database };
    expect(await readRows(await openTable(warehouse, EVENTS_TABLE))).toHaveLength(300);
  }, 360_000);

  it('keeps running after the replay until Ctrl-C, then stops cleanly', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fathom-start-'));
    let interrupted = false;
    const result = await run(['local', '--events', '300', '--data-dir', dataDir, '--port-api', '0'], 110_000, (stderr) => {
      if (!interrupted && stderr.includes('Ctrl-C stops it') && child?.pid !== undefined) {
        interrupted = true;
        process.kill(-child.pid, 'SIGINT'); // what a terminal sends the foreground process group
      }
    });
    expect(interrupted, result.stderr).toBe(true);
    expect(result.stderr).toMatch(/drained: \{"events":300,"features_written":300,/);
    expect(result.stderr).toContain('fathom local: stopping');
    expect(result.stdout).toBe('');
    expect(existsSync(join(dataDir, 'platform.lock'))).toBe(false);
  }, 120_000);
});
