// Feature backfill from the `events` table: on unchanged definitions it recomputes exactly what the
// stream logged (here the stream's own incremental driver, fed in arrival order with disorder
// inside the allowed lateness), into a separate table compared feature by feature; the same
// version is never logged twice into feature_log; new definitions land in feature_log as a new
// version that a training set can then use; and the default full-history replay is what makes the
// history-wide features exact.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillFeatureLog, featureLogLikeTable } from '../../lib/adapters/backfill';
import { appendRows, openTable, readRows } from '../../lib/adapters/iceberg';
import { buildTrainingSet } from '../../lib/adapters/training-set';
import { ConfigError } from '../../lib/core/errors';
import { referenceFeatureSet, type FeatureSet } from '../../lib/core/features';
import { generateWorkload, type GeneratedEvent } from '../../lib/core/generator';
import { EVENTS_TABLE, FEATURE_LOG_TABLE, LABELS_TABLE, type EventsRow, type FeatureLogRow } from '../../lib/core/offline/tables';
import { batchFeatureLog, chunks, eventsRowsOf, labelRowsOf, streamedFeatureLog } from './training-set-fixtures';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'fathom-backfill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const warehouse = { warehouse: join(dir, 'warehouse'), database: 'fathom_offline' };

const FROM = '2026-02-09';
const TO = '2026-02-12';
const inRange = (r: { event_time: string }) => r.event_time >= `${FROM}T` && r.event_time < `${TO}T`;

let generated: GeneratedEvent[];
let streamed: FeatureLogRow[];

beforeAll(async () => {
  // 45 days: cards in range have history older than the 30-day windows.
  generated = [...generateWorkload({ seed: 5, events: 8000, days: 45, start: '2026-01-01', fraudRate: 0.03 })];
  const events = await openTable(warehouse, EVENTS_TABLE);
  const rows = eventsRowsOf(generated);
  for (const part of chunks(rows, 3000)) await appendRows(events, part);
  // At-least-once delivery into events too: a few copies received later.
  await appendRows(events, rows.filter((_, i) => i % 400 === 0).map((r): EventsRow => ({ ...r, received_at: '2026-03-01T00:00:00.000Z' })));
  // The stream: arrival up to 200 s after event time (allowed lateness is 300 s).
  streamed = streamedFeatureLog(generated, '2026-02-20T00:00:00.000Z', 200_000);
  const featureLog = await openTable(warehouse, FEATURE_LOG_TABLE);
  for (const part of chunks(streamed, 3000)) await appendRows(featureLog, part);
  await appendRows(await openTable(warehouse, LABELS_TABLE), labelRowsOf(generated));
}, 60_000);

describe('feature backfill', () => {
  it('on unchanged definitions recomputes exactly the streamed vectors (into a separate table, compared)', async () => {
    const expected = streamed.filter(inRange);
    expect(expected.every((r) => !r.late)).toBe(true);
    const result = await backfillFeatureLog({ warehouse, from: FROM, to: TO, table: 'feature_log_backfill', now: () => new Date('2026-03-02T00:00:00Z') });
    expect(result.rows).toBe(expected.length);
    expect(result.duplicateEvents).toBe(Math.ceil(generated.length / 400) - generated.filter((_, i) => i % 400 === 0 && Date.parse(generated[i]!.event.event_time) >= Date.parse(`${TO}T00:00:00Z`)).length);
    expect(result.plan.fullCardHistory).toBe(true);
    expect(result.snapshotId).not.toBeNull();
    const c = result.comparison!;
    expect(c).toMatchObject({ compared: expected.length, only_in_reference: 0, only_in_candidate: 0, mismatched: 0, reference_late: 0 });
    expect(Object.values(c.per_feature).every((n) => n === 0)).toBe(true);
    expect(Object.keys(c.per_feature)).toEqual(referenceFeatureSet.features.map((f) => f.name));

    // Value for value, against the batch driver over the whole history as well.
    const written = await readRows(await openTable(warehouse, featureLogLikeTable('feature_log_backfill')));
    const batch = new Map(batchFeatureLog(generated, 'x').filter(inRange).map((r) => [r.event_id, r]));
    expect(written.length).toBe(batch.size);
    for (const r of written) {
      const b = batch.get(r.event_id)!;
      expect(r.features, r.event_id).toEqual(b.features);
      expect([r.entity_id, r.event_time, r.feature_set, r.late, r.logged_at]).toEqual([b.entity_id, b.event_time, 'card_fraud.v1', false, '2026-03-02T00:00:00.000Z']);
    }
  });

  it('refuses to log a feature set twice into the same table', async () => {
    const again = backfillFeatureLog({ warehouse, from: FROM, to: TO });
    await expect(again).rejects.toThrow(ConfigError);
    await expect(again).rejects.toThrow(/fathom_offline\.feature_log already holds \d+ card_fraud\.v1 rows/);
    await expect(backfillFeatureLog({ warehouse, from: FROM, to: TO, table: 'labels' })).rejects.toThrow(/offline table with another schema/);
    await expect(backfillFeatureLog({ warehouse, from: TO, to: FROM })).rejects.toThrow(/to .* must be after from/);
  });

  it('lands one of two concurrent backfills of the same range and refuses the other at its commit', async () => {
    const table = 'feature_log_concurrent';
    const run = () => backfillFeatureLog({ warehouse, from: FROM, to: TO, table, history: 'window' });
    // Started together, both pass the check made before any work; the second to commit must
    // find the first's rows in the table it would land on.
    const [a, b] = await Promise.allSettled([run(), run()]);
    const landed = [a, b].filter((r) => r.status === 'fulfilled');
    const refused = [a, b].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(landed).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(ConfigError);
    expect(String(refused[0]!.reason)).toMatch(/feature_log_concurrent already holds \d+ card_fraud\.v1 rows/);
    const rows = await readRows(await openTable(warehouse, featureLogLikeTable(table)));
    expect(rows.length).toBe((landed[0] as PromiseFulfilledResult<{ rows: number }>).value.rows);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(rows.length);
  });

  it('lands new definitions in feature_log as a new version, which a training set can then use alone', async () => {
    // New definitions: the reference set without the merchant features, as version 2.
    const v2: FeatureSet = { ...referenceFeatureSet, version: 2, features: referenceFeatureSet.features.filter((f) => !f.kind.startsWith('merchant')) };
    const result = await backfillFeatureLog({ warehouse, from: FROM, to: TO, featureSet: v2 });
    expect(result.table).toBe('fathom_offline.feature_log');
    expect(result.comparison).toBeUndefined();
    const logged = (await readRows(await openTable(warehouse, FEATURE_LOG_TABLE))).filter((r) => r.feature_set === 'card_fraud.v2');
    expect(logged.length).toBe(result.rows);
    expect(logged.every((r) => r.features.length === v2.features.length)).toBe(true);

    const cutoff = '2026-04-01T00:00:00Z';
    const mixed = buildTrainingSet({ warehouse, outDir: join(dir, 'mixed'), params: { from: FROM, to: TO, cutoff } });
    await expect(mixed).rejects.toThrow(/several feature sets \(card_fraud\.v1 \(\d+ rows\), card_fraud\.v2 \(\d+ rows\)\)/);
    const set = await buildTrainingSet({ warehouse, outDir: join(dir, 'v2'), params: { from: FROM, to: TO, cutoff, featureSet: 'card_fraud.v2' }, featureSets: [referenceFeatureSet, v2] });
    expect(set.manifest.features).toEqual(v2.features.map((f) => f.name));
    expect(set.manifest.counts.rows).toBe(result.rows);
    expect(set.manifest.counts.other_feature_sets).toEqual({ 'card_fraud.v1': result.rows });
  });

  it('replays the whole history of cards in range by default: the history-wide features need it', async () => {
    // One card: five payments at home (FR) in January, then one abroad (DE) in mid-April.
    const wh = { warehouse: warehouse.warehouse, database: 'history' };
    const base = { entity_id: 'card-1', merchant_id: 'm-1', amount: 20, currency: 'EUR', mcc: 5411, channel: 'pos' };
    const evs = [0, 1, 2, 3, 4].map((d) => ({ ...base, event_id: `h${d}`, country: 'FR', event_time: new Date(Date.UTC(2026, 0, 1 + d, 12)).toISOString() }));
    evs.push({ ...base, event_id: 'abroad', country: 'DE', event_time: '2026-04-15T12:00:00.000Z' });
    await appendRows(await openTable(wh, EVENTS_TABLE), evs.map((e) => ({ ...e, received_at: e.event_time, raw: JSON.stringify(e) })));
    const names = referenceFeatureSet.features.map((f) => f.name);
    const valueOf = async (table: string, name: string) => {
      const rows = await readRows(await openTable(wh, featureLogLikeTable(table)));
      return rows.find((r) => r.event_id === 'abroad')!.features[names.indexOf(name)];
    };
    await backfillFeatureLog({ warehouse: wh, from: '2026-04-15', to: '2026-04-16', table: 'full' });
    await backfillFeatureLog({ warehouse: wh, from: '2026-04-15', to: '2026-04-16', table: 'window', history: 'window' });
    expect(await valueOf('full', 'card_foreign_country')).toBe(1);
    expect(await valueOf('full', 'card_seconds_since_prev')).toBe((Date.parse('2026-04-15T12:00:00Z') - Date.parse('2026-01-05T12:00:00Z')) / 1000);
    // The windows alone cannot see the January history.
    expect(await valueOf('window', 'card_foreign_country')).toBe(0);
    expect(await valueOf('window', 'card_seconds_since_prev')).toBe(-1);
  });

  it('runs from the command line, with a JSON summary last and flag errors naming the flag', () => {
    const fathom = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bin/fathom.ts', 'backfill', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const flags = ['--warehouse', warehouse.warehouse, '--database', warehouse.database, '--from', FROM, '--to', '2026-02-10'];
    const ok = fathom([...flags, '--table', 'feature_log_cli']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/backfill: replayed/);
    const summary = JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as { status: string; rows: number; comparison: { mismatched: number; compared: number } };
    expect(summary.status).toBe('completed');
    expect(summary.comparison.mismatched).toBe(0);
    expect(summary.comparison.compared).toBe(summary.rows);
    const twice = fathom(flags);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/--table: fathom_offline\.feature_log already holds/);
    const badHistory = fathom([...flags, '--history', 'some']);
    expect(badHistory.status).toBe(2);
    expect(badHistory.stderr).toMatch(/--history must be full or window/);
  }, 60_000);
});
