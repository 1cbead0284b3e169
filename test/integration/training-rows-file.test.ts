// Training-row files both ways: what is written reads back as the same float32 matrix (NaN kept
// as missing), and a bad row stops the read naming its row and field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTrainingRowWriter, readTrainingRows } from '../../lib/adapters/training-rows-file';

const dir = mkdtempSync(join(tmpdir(), 'fathom-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const features = ['a', 'b', 'c'];
const rows = [
  { event_id: 'e1', event_time: '2026-01-01T00:00:00.000Z', label: 0 as const, values: [1.5, Number.NaN, -3] },
  { event_id: 'e2', event_time: '2026-01-01T00:00:01.250Z', label: 1 as const, values: [0.1, 2, 1e6] },
];

describe('training-row files', () => {
  it.each(['jsonl', 'parquet'] as const)('round-trips a matrix through %s', async (ext) => {
    const path = join(dir, `rows.${ext}`);
    const w = createTrainingRowWriter(path, features);
    await w.write(rows);
    await w.close();
    const m = await readTrainingRows(path);
    expect(m.features).toEqual(features);
    expect(m.rows).toBe(2);
    expect([...m.label]).toEqual([0, 1]);
    expect([...m.eventTime]).toEqual([Date.parse(rows[0]!.event_time), Date.parse(rows[1]!.event_time)]);
    expect(m.eventIds).toEqual(['e1', 'e2']);
    expect(Array.from(m.x)).toEqual(Array.from(Float32Array.from([...rows[0]!.values, ...rows[1]!.values])));
  });

  it('names the row and field of a bad value', async () => {
    const path = join(dir, 'bad.jsonl');
    const good = { event_id: 'e1', event_time: '2026-01-01T00:00:00Z', label: 0, a: 1, b: 2, c: 3 };
    writeFileSync(path, `${JSON.stringify(good)}\n${JSON.stringify({ ...good, event_id: 'e2', b: 'x' })}\n`);
    await expect(readTrainingRows(path)).rejects.toMatchObject({ field: `${path} row 2.b` });
    writeFileSync(path, `${JSON.stringify({ ...good, label: 2 })}\n`);
    await expect(readTrainingRows(path)).rejects.toMatchObject({ field: `${path} row 1.label` });
    writeFileSync(path, `${JSON.stringify(good)}\n${JSON.stringify({ event_id: 'e2', event_time: '2026-01-01T00:00:00Z', label: 0, a: 1, b: 2 })}\n`);
    await expect(readTrainingRows(path)).rejects.toThrow(/row 2\.c: feature column is missing/);
    writeFileSync(path, '');
    await expect(readTrainingRows(path)).rejects.toThrow(/no rows/);
  });

  it('refuses a file whose columns differ from the expected features', async () => {
    const path = join(dir, 'other.jsonl');
    writeFileSync(path, `${JSON.stringify({ event_id: 'e1', event_time: '2026-01-01T00:00:00Z', label: 0, a: 1, b: 2, c: 3, d: 4 })}\n`);
    await expect(readTrainingRows(path, { features })).rejects.toThrow(/row 1\.d: not one of the model's features/);
  });
});
