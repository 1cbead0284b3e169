// `fathom generate --training-rows` then `fathom train`, as a user runs them: rows in Parquet, a
// package out, progress on stderr and the JSON summary as the last stdout line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../lib/core/models/manifest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const work = mkdtempSync(join(tmpdir(), 'fathom-train-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fathom = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/fathom.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
const lastLine = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;

describe('fathom train', () => {
  it('trains from generated Parquet training rows and prints the holdout metrics last', () => {
    const gen = fathom(['generate', '--events', '30000', '--days', '14', '--seed', '3', '--format', 'parquet', '--training-rows', '--out', work]);
    expect(gen.status, gen.stderr).toBe(0);
    expect(lastLine(gen.stdout).files).toContain(join(work, 'training-rows.parquet'));

    const out = join(work, 'pkg');
    const r = fathom(['train', '--data', join(work, 'training-rows.parquet'), '--out', out, '--trees', '40', '--seed', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/split by event time/);
    expect(r.stderr).toMatch(/tree \d+\/40/);
    const summary = lastLine(r.stdout) as { holdout: { roc_auc: number; pr_auc: number }; seconds: number; version: string };
    expect(summary.holdout.roc_auc).toBeGreaterThan(0.9);
    expect(summary.holdout.pr_auc).toBeGreaterThan(0);
    expect(summary.seconds).toBeGreaterThan(0);
    const manifest = parseManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
    expect(manifest.version).toBe(summary.version);
    expect(manifest.feature_set).toBe('card_fraud.v1');
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
  }, 180_000);

  it('names the flag or the parameter at fault and exits 2', () => {
    const missing = fathom(['train']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--data is required/);
    const badJson = fathom(['train', '--data', 'x.jsonl', '--params', '{nope']);
    expect(badJson.status).toBe(2);
    expect(badJson.stderr).toMatch(/--params is not valid JSON/);
    const noFile = fathom(['train', '--data', join(work, 'absent.jsonl')]);
    expect(noFile.status).not.toBe(0);
    expect(noFile.stderr).toMatch(/absent\.jsonl: no such file/);
  }, 60_000);
});
