// `fathom training-set` then `fathom train --data <set>`, as a user runs them against a warehouse:
// progress on stderr, a JSON summary as the last stdout line, and the package naming the set.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRows, openTable } from '../../lib/adapters/iceberg';
import { generateWorkload } from '../../lib/core/generator';
import { parseManifest } from '../../lib/core/models/manifest';
import { FEATURE_LOG_TABLE, LABELS_TABLE } from '../../lib/core/offline/tables';
import { batchFeatureLog, labelRowsOf } from './training-set-fixtures';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'fathom-training-set-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The platform's layout: <data dir>/warehouse, database fathom_offline.
const dataDir = join(dir, 'state');

const fathom = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/fathom.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
const lastLine = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;

beforeAll(async () => {
  const g = [...generateWorkload({ seed: 4, events: 4000, days: 10, start: '2026-01-01', fraudRate: 0.05 })];
  const warehouse = { warehouse: join(dataDir, 'warehouse'), database: 'fathom_offline' };
  await appendRows(await openTable(warehouse, FEATURE_LOG_TABLE), batchFeatureLog(g, '2026-01-15T00:00:00.000Z'));
  await appendRows(await openTable(warehouse, LABELS_TABLE), labelRowsOf(g));
}, 60_000);

describe('fathom training-set', () => {
  it('builds a set that fathom train reads directly, and the package names it', () => {
    const out = join(dir, 'set');
    const built = fathom(['training-set', '--data-dir', dataDir, '--from', '2026-01-01', '--to', '2026-01-10', '--cutoff', '2026-03-01T00:00:00Z', '--holdout', '0.3', '--out', out]);
    expect(built.status, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/training-set: writing holdout/);
    const summary = lastLine(built.stdout) as { id: string; manifest_sha256: string; rows: Record<string, number>; counts: { rows: number } };
    expect(summary.id).toMatch(/^feature_log@-?\d+,labels@-?\d+$/);
    expect(summary.rows.train! + summary.rows.validation! + summary.rows.holdout!).toBe(summary.counts.rows);

    const model = join(dir, 'model');
    const trained = fathom(['train', '--data', out, '--out', model, '--trees', '15', '--seed', '1']);
    expect(trained.status, trained.stderr).toBe(0);
    const result = lastLine(trained.stdout) as { rows: Record<string, number>; training_set: unknown };
    expect(result.rows).toEqual(summary.rows);
    const manifest = parseManifest(JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')));
    expect(manifest.training_set).toEqual({ snapshot_id: summary.id, rows: summary.counts.rows, sha256: summary.manifest_sha256 });
    expect(result.training_set).toEqual(manifest.training_set);
  }, 60_000);

  it('names the flag at fault and exits 2', () => {
    const base = ['training-set', '--data-dir', dataDir, '--from', '2026-01-01', '--to', '2026-01-10', '--out', join(dir, 'bad')];
    const missing = fathom(base);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--cutoff is required/);
    const unknownSet = fathom([...base, '--cutoff', '2026-03-01', '--feature-set', 'card_fraud.v7']);
    expect(unknownSet.status).toBe(2);
    expect(unknownSet.stderr).toMatch(/--feature-set: feature_log holds no card_fraud\.v7 rows in the range; it holds card_fraud\.v1/);
  }, 60_000);
});
