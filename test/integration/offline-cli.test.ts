// `fathom offline` over a real local warehouse: snapshots are listed as committed, compaction keeps
// every row while cutting the files, expiry drops old snapshots and their files but never the
// current one, and a bad command line names the flag.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRows, listDataFiles, openOfflineTables, readRows } from '../../lib/adapters/iceberg';
import { parseOfflineArgs, runOfflineAction } from '../../lib/cli/offline';
import { eventRows } from './iceberg-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'fathom-offline-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = ['--data-dir', dir];

interface SnapshotLine {
  snapshot_id: number;
  operation: string;
  added_records: number;
  total_records: number;
  current: boolean;
}

describe('fathom offline', () => {
  it('lists, compacts and expires the snapshots of a table, keeping every row', async () => {
    const tables = await openOfflineTables({ warehouse: join(dir, 'warehouse'), database: 'fathom_offline' });
    for (let i = 0; i < 4; i++) await appendRows(tables.events, eventRows('e', i * 50, 50, { days: 2 }));
    const rowsBefore = (await readRows(tables.events)).map((r) => r.event_id).sort();
    const filesBefore = (await listDataFiles(tables.events)).files.length;

    const listed = (await runOfflineAction(parseOfflineArgs(['snapshots', '--table', 'events', ...base])!)) as { events: SnapshotLine[] };
    expect(listed.events.map((s) => [s.operation, s.added_records, s.total_records])).toEqual([
      ['append', 50, 50],
      ['append', 50, 100],
      ['append', 50, 150],
      ['append', 50, 200],
    ]);
    expect(listed.events.filter((s) => s.current)).toHaveLength(1);

    const compacted = (await runOfflineAction(parseOfflineArgs(['compact', '--table', 'events', ...base])!)) as { events: { rewritten_files: number; added_files: number; records: number } };
    expect(compacted.events.rewritten_files).toBe(filesBefore);
    expect(compacted.events.added_files).toBe(2); // one per day partition
    expect((await listDataFiles(tables.events)).files).toHaveLength(2);
    expect((await readRows(tables.events)).map((r) => r.event_id).sort()).toEqual(rowsBefore);
    // Nothing left to compact the second time.
    expect(await runOfflineAction(parseOfflineArgs(['compact', '--table', 'events', ...base])!)).toEqual({ events: { nothing_to_compact: true } });

    // Everything is older than one minute an hour from now; the newest snapshot stays.
    const expired = (await runOfflineAction(parseOfflineArgs(['expire', '--older-than', '1m', '--table', 'events', ...base])!, Date.now() + 3_600_000)) as {
      events: { expired_snapshots: number; deleted_data_files: number };
    };
    expect(expired.events).toMatchObject({ expired_snapshots: 4, deleted_data_files: filesBefore });
    const after = (await runOfflineAction(parseOfflineArgs(['snapshots', '--table', 'events', ...base])!)) as { events: SnapshotLine[] };
    expect(after.events.map((s) => [s.operation, s.total_records, s.current])).toEqual([['replace', 200, true]]);
    expect((await readRows(tables.events)).map((r) => r.event_id).sort()).toEqual(rowsBefore);
  });

  it.each([
    [['vacuum'], 'action'],
    [['snapshots', ...base], '--table'],
    [['compact', '--table', 'evnts', ...base], '--table'],
    [['expire', ...base], '--older-than'],
    [['expire', '--older-than', '7 days', ...base], '--older-than'],
    [['compact', '--older-than', '7d', ...base], '--older-than'],
    [['compact', '--min-input-files', '1', ...base], '--min-input-files'],
  ])('refuses %j naming %s', (argv, field) => {
    expect(() => parseOfflineArgs(argv)).toThrow(expect.objectContaining({ field }));
  });

  it('refuses a data dir that holds no offline store, rather than creating an empty one', async () => {
    await expect(runOfflineAction(parseOfflineArgs(['compact', '--data-dir', join(dir, 'nope')])!)).rejects.toMatchObject({ field: '--data-dir' });
  });
});
