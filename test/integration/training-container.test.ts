// The training container's entry, bundled exactly as containers/training/Dockerfile bundles it and
// run as a child process against a temporary folder laid out like /opt/ml: a clean run, a failure
// that must land in output/failure, and a run stopped by SIGTERM (a spot interruption) then
// restarted, which must yield the very model an uninterrupted run yields.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainingRowWriter } from '../../lib/adapters/training-rows-file';
import { generateWorkload } from '../../lib/core/generator';
import { rowsFromWorkload } from '../../lib/core/training';

let work: string;
let bundle: string;
let rowsFile: string;

const HYPER = { trees: '60', checkpointEvery: '5', earlyStoppingRounds: '0', maxDepth: '4', seed: '7', name: 'card-fraud', version: 'test-1' };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fathom-sm-'));
  bundle = join(work, 'train.mjs');
  await build({
    entryPoints: ['containers/training/entry.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: bundle,
    external: ['onnxruntime-node'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  const m = rowsFromWorkload(generateWorkload({ events: 20_000, seed: 5, days: 10 }));
  rowsFile = join(work, 'rows.jsonl');
  const writer = createTrainingRowWriter(rowsFile, m.features);
  const f = m.features.length;
  const rows = Array.from({ length: m.rows }, (_, r) => ({
    event_id: m.eventIds![r]!,
    event_time: new Date(m.eventTime[r]!).toISOString(),
    label: m.label[r] as 0 | 1,
    values: m.x.subarray(r * f, (r + 1) * f),
  }));
  await writer.write(rows);
  await writer.close();
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

function layout(name: string, hyper: Record<string, string> | string): string {
  const root = join(work, name);
  mkdirSync(join(root, 'input', 'config'), { recursive: true });
  mkdirSync(join(root, 'input', 'data', 'train'), { recursive: true });
  writeFileSync(join(root, 'input', 'config', 'hyperparameters.json'), typeof hyper === 'string' ? hyper : JSON.stringify(hyper));
  writeFileSync(join(root, 'input', 'data', 'train', 'rows.jsonl'), readFileSync(rowsFile));
  return root;
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the bundle; `onLine` sees each stdout line and may return true to send SIGTERM. */
function runEntry(root: string, onLine?: (line: string) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, 'train'], { env: { ...process.env, FATHOM_SAGEMAKER_ROOT: root }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!signalled && onLine && chunk.split('\n').some((line) => line && onLine(line))) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const manifestOf = (root: string) => {
  const { created_at: _c, ...rest } = JSON.parse(readFileSync(join(root, 'model', 'manifest.json'), 'utf8')) as Record<string, unknown>;
  return rest;
};

describe('training container entry', () => {
  it('an interrupted-then-resumed run yields exactly the uninterrupted model', async () => {
    const whole = layout('whole', HYPER);
    const a = await runEntry(whole);
    expect(a.code, a.stderr).toBe(0);
    expect(existsSync(join(whole, 'output', 'failure'))).toBe(false);

    const spot = layout('spot', HYPER);
    // SIGTERM once the second checkpoint (10 trees) is on disk: the run stops mid-way.
    const b = await runEntry(spot, (line) => line.includes('"phase":"checkpoint"') && line.includes('"iteration":10'));
    expect(b.code).toBe(143);
    expect(b.stdout).toContain('"status":"interrupted"');
    expect(existsSync(join(spot, 'model', 'model.onnx'))).toBe(false);
    const checkpoint = JSON.parse(readFileSync(join(spot, 'checkpoints', 'gbdt-checkpoint.json'), 'utf8')) as { trees: unknown[] };
    expect(checkpoint.trees.length).toBeGreaterThanOrEqual(10);
    expect(checkpoint.trees.length).toBeLessThan(60);

    const c = await runEntry(spot);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('"phase":"resumed"');
    expect(digest(join(spot, 'model', 'model.onnx'))).toBe(digest(join(whole, 'model', 'model.onnx')));
    expect(manifestOf(spot)).toEqual(manifestOf(whole));
    // A finished job leaves no checkpoint to resume from by mistake.
    expect(existsSync(join(spot, 'checkpoints', 'gbdt-checkpoint.json'))).toBe(false);
  }, 120_000);

  it('writes output/failure naming an unknown hyperparameter and exits 1', async () => {
    const root = layout('bad-param', { ...HYPER, max_depth: '4' });
    const r = await runEntry(root);
    expect(r.code).toBe(1);
    expect(readFileSync(join(root, 'output', 'failure'), 'utf8')).toMatch(/hyperparameter max_depth is unknown/);
  }, 60_000);

  it('writes output/failure for an out-of-range value and for a missing channel', async () => {
    const bad = layout('bad-range', { ...HYPER, learningRate: '3' });
    expect((await runEntry(bad)).code).toBe(1);
    expect(readFileSync(join(bad, 'output', 'failure'), 'utf8')).toMatch(/learningRate/);

    const empty = layout('no-channel', HYPER);
    rmSync(join(empty, 'input', 'data', 'train'), { recursive: true });
    expect((await runEntry(empty)).code).toBe(1);
    expect(readFileSync(join(empty, 'output', 'failure'), 'utf8')).toMatch(/input channel "train" is missing/);
  }, 60_000);
});
