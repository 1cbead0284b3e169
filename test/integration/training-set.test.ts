// Point-in-time training sets from real Iceberg tables (the project's writer, DuckDB over pinned
// snapshots): labels that become known after the cutoff never leak, duplicates and mixed feature
// sets are handled as documented, the split is time-ordered, and the same snapshots and
// parameters give the same bytes. The DuckDB build is held to the in-memory reference rules.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRows, openTable, readRows } from '../../lib/adapters/iceberg';
import { readTrainingRows } from '../../lib/adapters/training-rows-file';
import { runTrainingJob } from '../../lib/adapters/training-job';
import { buildTrainingSet, readTrainingSet, type BuildTrainingSetResult } from '../../lib/adapters/training-set';
import { ConfigError, ValidationError } from '../../lib/core/errors';
import { generateWorkload, type GeneratedEvent } from '../../lib/core/generator';
import { parseTimestampMicros } from '../../lib/core/iceberg/timestamps';
import { FEATURE_LOG_TABLE, LABELS_TABLE, type FeatureLogRow, type LabelsRow } from '../../lib/core/offline/tables';
import { pointInTimeJoin, SPLITS, type FeatureLogEntry, type LabelEntry } from '../../lib/core/training-set';
import { batchFeatureLog, chunks, FEATURE_SET } from './training-set-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'fathom-training-set-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const warehouse = { warehouse: join(dir, 'warehouse'), database: 'fathom_offline' };

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const FROM = '2026-01-08';
const TO = '2026-01-18';
const CUTOFF = '2026-01-20T00:00:00Z';
const CUTOFF_MS = Date.parse(CUTOFF);
const iso = (ms: number) => new Date(ms).toISOString();
const us = (text: string) => Number(parseTimestampMicros(text)!);

let generated: GeneratedEvent[];
let inRange: GeneratedEvent[];
/** Planted: a 0 known before the cutoff, then a 1 after it. */
let flipAfter: Set<string>;
/** Planted: labels only after the cutoff. */
let onlyAfter: Set<string>;
/** Planted: 1 then 0, both before the cutoff (the latest, 0, wins). */
let overturned: Set<string>;
/** Planted: a label exactly at the cutoff (known). */
let atCutoff: Set<string>;
/** Planted: feature_log repeats that disagree with the first row (late, other values). */
let conflicting: Set<string>;
let base: BuildTrainingSetResult;

function plantedLabels(): LabelsRow[] {
  const rows: LabelsRow[] = [];
  const ids = inRange.map((g) => g.event.event_id);
  flipAfter = new Set(ids.filter((_, i) => i % 37 === 1));
  onlyAfter = new Set(ids.filter((_, i) => i % 37 === 2));
  overturned = new Set(ids.filter((_, i) => i % 37 === 3));
  atCutoff = new Set(ids.filter((_, i) => i % 37 === 4));
  for (const g of generated) {
    const id = g.event.event_id;
    const t = Date.parse(g.event.event_time);
    if (flipAfter.has(id)) rows.push({ event_id: id, label: 0, labeled_at: iso(t + DAY) }, { event_id: id, label: 1, labeled_at: iso(CUTOFF_MS + 1) });
    else if (onlyAfter.has(id)) rows.push({ event_id: id, label: 1, labeled_at: iso(CUTOFF_MS + 3_600_000) });
    else if (overturned.has(id)) rows.push({ event_id: id, label: 1, labeled_at: iso(t + DAY) }, { event_id: id, label: 0, labeled_at: iso(t + 2 * DAY) });
    else if (atCutoff.has(id)) rows.push({ event_id: id, label: 1, labeled_at: CUTOFF });
    // Every other event: its true label a day after it happened (known at the cutoff when in range).
    else rows.push({ event_id: id, label: g.label, labeled_at: iso(t + DAY) });
  }
  // Labels for events outside the range, known long before the cutoff, and for unknown events.
  for (const g of generated.filter((x) => !inRange.includes(x)).slice(0, 200)) rows.push({ event_id: g.event.event_id, label: 1, labeled_at: iso(START) });
  for (let i = 0; i < 20; i++) rows.push({ event_id: `ghost-${i}`, label: 1, labeled_at: iso(START) });
  return rows;
}

const entry = (r: FeatureLogRow): FeatureLogEntry => ({
  event_id: r.event_id,
  entity_id: r.entity_id,
  event_time_us: us(r.event_time),
  feature_set: r.feature_set,
  features: r.features,
  late: r.late,
  logged_at_us: us(r.logged_at),
});
const labelEntry = (l: LabelsRow): LabelEntry => ({ event_id: l.event_id, label: l.label, labeled_at_us: us(l.labeled_at) });

interface FileRow {
  event_id: string;
  event_time: string;
  label: number;
  values: number[];
}

async function readSplit(path: string): Promise<FileRow[]> {
  const m = await readTrainingRows(path);
  const f = m.features.length;
  return Array.from({ length: m.rows }, (_, r) => ({
    event_id: m.eventIds![r]!,
    event_time: iso(m.eventTime[r]!),
    label: m.label[r]!,
    values: Array.from(m.x.subarray(r * f, (r + 1) * f)),
  }));
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

beforeAll(async () => {
  generated = [...generateWorkload({ seed: 11, events: 6000, days: 20, start: '2026-01-01', fraudRate: 0.05 })];
  inRange = generated.filter((g) => g.event.event_time >= `${FROM}T` && g.event.event_time < `${TO}T`);
  const featureLog = await openTable(warehouse, FEATURE_LOG_TABLE);
  const labels = await openTable(warehouse, LABELS_TABLE);
  const logged = batchFeatureLog(generated, iso(START + 25 * DAY));
  // Several commits: the set is read across many files.
  for (const part of chunks(logged, 2000)) await appendRows(featureLog, part);
  // At-least-once delivery: exact repeats (later logged_at) and repeats that disagree (late, other values).
  const repeats = logged.filter((_, i) => i % 50 === 5).map((r) => ({ ...r, logged_at: iso(START + 26 * DAY) }));
  const disagreeing = logged
    .filter((r) => r.event_time >= `${FROM}T` && r.event_time < `${TO}T`)
    .filter((_, i) => i % 97 === 7)
    .map((r) => ({ ...r, late: true, features: r.features.map((x, j) => (j === 0 ? (x ?? 0) + 1 : x)) }));
  conflicting = new Set(disagreeing.map((r) => r.event_id));
  await appendRows(featureLog, [...repeats, ...disagreeing]);
  for (const part of chunks(plantedLabels(), 2500)) await appendRows(labels, part);
  base = await buildTrainingSet({ warehouse, outDir: join(dir, 'base'), params: { from: FROM, to: TO, cutoff: CUTOFF } });
}, 60_000);

describe('point-in-time training set', () => {
  it('lets no label known only after the cutoff into the set, and no event outside the range', async () => {
    const rows = (await Promise.all(SPLITS.map((s) => readSplit(join(base.dir, base.manifest.splits[s].file))))).flat();
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    expect(byId.size).toBe(rows.length);
    for (const r of rows) expect(r.event_time >= `${FROM}T` && r.event_time < `${TO}T`, r.event_id).toBe(true);
    for (const id of onlyAfter) expect(byId.has(id), id).toBe(false);
    for (const id of flipAfter) expect(byId.get(id)?.label, id).toBe(0);
    for (const id of overturned) expect(byId.get(id)?.label, id).toBe(0);
    for (const id of atCutoff) expect(byId.get(id)?.label, id).toBe(1);
    expect([...byId.keys()].some((id) => id.startsWith('ghost-'))).toBe(false);

    const c = base.manifest.counts;
    expect(c.events).toBe(inRange.length);
    expect(c.labeled_only_after_cutoff).toBe(onlyAfter.size);
    expect(c.unlabeled).toBe(onlyAfter.size);
    expect(c.rows).toBe(inRange.length - onlyAfter.size);
    expect(c.label_rows_after_cutoff).toBe(flipAfter.size + onlyAfter.size);
    expect(c.conflicting_labels).toBe(overturned.size);
    expect(base.manifest.params).toEqual({ from: '2026-01-08T00:00:00.000Z', to: '2026-01-18T00:00:00.000Z', cutoff: '2026-01-20T00:00:00.000Z', validation: 0.15, holdout: 0.15 });
  });

  it('keeps one row per event id, preferring the on-time one, and names repeats that disagree', async () => {
    const c = base.manifest.counts;
    expect(c.conflicting_duplicates).toBe(conflicting.size);
    expect(c.duplicate_rows).toBeGreaterThan(conflicting.size);
    expect(base.manifest.conflict_examples.length).toBe(Math.min(10, conflicting.size));
    for (const id of base.manifest.conflict_examples) expect(conflicting.has(id)).toBe(true);
    // The kept row is the on-time one: the DuckDB set equals the in-memory rules, value for value.
    const featureRows = (await readRows(await openTable(warehouse, FEATURE_LOG_TABLE))).map(entry);
    const labelRows = (await readRows(await openTable(warehouse, LABELS_TABLE))).map(labelEntry);
    const reference = pointInTimeJoin(featureRows, labelRows, { fromUs: us(`${FROM}T00:00:00Z`), toUs: us(`${TO}T00:00:00Z`), cutoffUs: us(CUTOFF) });
    expect(reference.counts).toEqual(c);
    expect(reference.conflictExamples).toEqual(base.manifest.conflict_examples);
    const rows = (await Promise.all(SPLITS.map((s) => readSplit(join(base.dir, base.manifest.splits[s].file))))).flat();
    expect(rows.map((r) => r.event_id)).toEqual(reference.rows.map((r) => r.event_id));
    expect(rows.map((r) => r.label)).toEqual(reference.rows.map((r) => r.label));
    // Values as float32 (the trainer's precision); null is NaN.
    const f32 = (v: readonly (number | null)[]) => v.map((x) => (x === null ? Number.NaN : Math.fround(x)));
    expect(rows.map((r) => r.values)).toEqual(reference.rows.map((r) => f32(r.features)));
  });

  it('splits by event time, never shuffled, and the counts add up', async () => {
    const splits = await Promise.all(SPLITS.map((s) => readSplit(join(base.dir, base.manifest.splits[s].file))));
    const key = (r: FileRow) => `${r.event_time}|${r.event_id}`;
    for (const rows of splits) expect(rows.map(key)).toEqual(rows.map(key).sort());
    const [train, validation, holdout] = splits as [FileRow[], FileRow[], FileRow[]];
    expect(train.at(-1)!.event_time < validation[0]!.event_time).toBe(true);
    expect(validation.at(-1)!.event_time < holdout[0]!.event_time).toBe(true);
    const n = base.manifest.counts.rows;
    expect(holdout.length).toBeGreaterThanOrEqual(Math.round(n * 0.15));
    SPLITS.forEach((s, i) => {
      const m = base.manifest.splits[s];
      expect(m.rows).toBe(splits[i]!.length);
      expect(m.positives).toBe(splits[i]!.reduce((a, r) => a + r.label, 0));
      expect(m.first_event_time).toBe(splits[i]![0]!.event_time);
      expect(m.sha256).toBe(sha(join(base.dir, m.file)));
    });
  });

  it('pins one snapshot per table: the same snapshots and parameters give the same bytes after later appends', async () => {
    // Commits after the first build: new rows in the range and new labels.
    const extra = batchFeatureLog(generated.slice(0, 50), iso(START + 30 * DAY)).map((r) => ({ ...r, event_id: `${r.event_id}-x`, event_time: `${FROM}T12:00:00.000Z` }));
    await appendRows(await openTable(warehouse, FEATURE_LOG_TABLE), extra);
    await appendRows(await openTable(warehouse, LABELS_TABLE), extra.map((r) => ({ event_id: r.event_id, label: 1 as const, labeled_at: `${FROM}T13:00:00.000Z` })));
    const s = base.manifest.sources;
    const again = await buildTrainingSet({
      warehouse,
      outDir: join(dir, 'again'),
      params: { from: FROM, to: TO, cutoff: CUTOFF },
      snapshots: { featureLog: { snapshotId: s.feature_log.snapshot_id }, labels: { snapshotId: s.labels.snapshot_id } },
    });
    expect(again.manifestSha256).toBe(base.manifestSha256);
    expect(readFileSync(join(again.dir, 'manifest.json'))).toEqual(readFileSync(join(base.dir, 'manifest.json')));
    for (const split of SPLITS) expect(sha(join(again.dir, `${split}.parquet`))).toBe(base.manifest.splits[split].sha256);
    // The current snapshots hold the new rows: another set, another name.
    const current = await buildTrainingSet({ warehouse, outDir: join(dir, 'current'), params: { from: FROM, to: TO, cutoff: CUTOFF } });
    expect(current.manifest.id).not.toBe(base.manifest.id);
    expect(current.manifest.counts.rows).toBe(base.manifest.counts.rows + extra.length);
    expect(current.manifest.id).toBe(`feature_log@${current.manifest.sources.feature_log.snapshot_id},labels@${current.manifest.sources.labels.snapshot_id}`);
  });

  it('reads one snapshot per table while writers commit: a rebuild at the manifest’s snapshots gives the same bytes', async () => {
    const featureLog = await openTable(warehouse, FEATURE_LOG_TABLE);
    const more = batchFeatureLog(generated.slice(100, 130), iso(START + 31 * DAY)).map((r) => ({ ...r, event_id: `${r.event_id}-c`, event_time: `${FROM}T15:00:00.000Z` }));
    const [during] = await Promise.all([
      buildTrainingSet({ warehouse, outDir: join(dir, 'during'), params: { from: FROM, to: TO, cutoff: CUTOFF } }),
      (async () => {
        for (const part of chunks(more, 3)) await appendRows(featureLog, part);
      })(),
    ]);
    const s = during.manifest.sources;
    const rebuilt = await buildTrainingSet({
      warehouse,
      outDir: join(dir, 'rebuilt'),
      params: { from: FROM, to: TO, cutoff: CUTOFF },
      snapshots: { featureLog: { snapshotId: s.feature_log.snapshot_id }, labels: { snapshotId: s.labels.snapshot_id } },
    });
    expect(rebuilt.manifestSha256).toBe(during.manifestSha256);
  });

  it('uses one feature set: a range holding two is refused, naming both; naming one counts the other', async () => {
    const v2 = batchFeatureLog(inRange.slice(0, 30), iso(START + 27 * DAY)).map((r) => ({ ...r, feature_set: 'card_fraud.v2' }));
    await appendRows(await openTable(warehouse, FEATURE_LOG_TABLE), v2);
    const mixed = buildTrainingSet({ warehouse, outDir: join(dir, 'mixed'), params: { from: FROM, to: TO, cutoff: CUTOFF } });
    await expect(mixed).rejects.toThrow(ConfigError);
    await expect(mixed).rejects.toThrow(/card_fraud\.v1 \(\d+ rows\), card_fraud\.v2 \(30 rows\)/);
    const named = await buildTrainingSet({ warehouse, outDir: join(dir, 'named'), params: { from: FROM, to: TO, cutoff: CUTOFF, featureSet: FEATURE_SET } });
    expect(named.manifest.counts.other_feature_sets).toEqual({ 'card_fraud.v2': 30 });
    // A set the code has no definition for cannot name its columns.
    await expect(buildTrainingSet({ warehouse, outDir: join(dir, 'v2'), params: { from: FROM, to: TO, cutoff: CUTOFF, featureSet: 'card_fraud.v2' } })).rejects.toThrow(
      /card_fraud\.v2 is not defined in this code/,
    );
    // A non-empty output directory is never written into.
    await expect(buildTrainingSet({ warehouse, outDir: base.dir, params: { from: FROM, to: TO, cutoff: CUTOFF, featureSet: FEATURE_SET } })).rejects.toThrow(/not empty/);
  });

  it('trains on the set as it is: train, early stopping on validation, metrics on holdout, named by snapshots and sha256', async () => {
    const out = join(dir, 'model');
    const result = await runTrainingJob({ dataPath: base.dir, outDir: out, params: { trees: 15, seed: 1 }, now: () => new Date(START) });
    if (result.status !== 'completed') throw new Error('expected a completed run');
    const m = base.manifest;
    expect(result.manifest.training_set).toEqual({ snapshot_id: m.id, rows: m.counts.rows, sha256: base.manifestSha256 });
    expect(result.rows).toEqual({ train: m.splits.train.rows, validation: m.splits.validation.rows, holdout: m.splits.holdout.rows });
    expect(result.manifest.metrics.holdout.rows).toBe(m.splits.holdout.rows);
    expect(result.manifest.feature_set).toBe(FEATURE_SET);
    const read = await readTrainingSet(base.dir);
    expect(read.manifestSha256).toBe(base.manifestSha256);

    // The split is the set's: share flags are refused rather than silently ignored.
    await expect(runTrainingJob({ dataPath: base.dir, outDir: out, validationFraction: 0.2 })).rejects.toThrow(/validation: .* is a training set/);
    // A file changed after the build is refused: the package could not name its data.
    const tampered = join(dir, 'tampered');
    rmSync(tampered, { recursive: true, force: true });
    await buildTrainingSet({
      warehouse,
      outDir: tampered,
      params: { from: FROM, to: TO, cutoff: CUTOFF, featureSet: FEATURE_SET },
      snapshots: { featureLog: { snapshotId: m.sources.feature_log.snapshot_id }, labels: { snapshotId: m.sources.labels.snapshot_id } },
    });
    const holdoutPath = join(tampered, 'holdout.parquet');
    const bytes = readFileSync(holdoutPath);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 20) ^ 1, bytes.length - 20);
    writeFileSync(holdoutPath, bytes);
    const refused = runTrainingJob({ dataPath: tampered, outDir: join(dir, 'model2') });
    await expect(refused).rejects.toThrow(ValidationError);
    await expect(refused).rejects.toThrow(/sha256 .* differs from the manifest/);
  }, 60_000);
});
