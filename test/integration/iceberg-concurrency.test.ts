import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRows, compact, listDataFiles, loadTable, openTable, readRows, readVersion, type AppendResult, type IcebergTable } from '../../lib/adapters/iceberg';
import type { TableMetadata } from '../../lib/core/iceberg';
import { EVENTS_TABLE, type EventsRow } from '../../lib/core/offline/tables';
import { eventRows } from './iceberg-fixtures';

const ROOT = resolve(import.meta.dirname, '../..');
const CHILD = resolve(import.meta.dirname, 'iceberg-writer-process.ts');

let warehouse: string;

beforeAll(async () => {
  warehouse = await mkdtemp(join(tmpdir(), 'fathom-iceberg-race-'));
});

afterAll(async () => {
  await rm(warehouse, { recursive: true, force: true });
});

async function writer(table: IcebergTable<EventsRow>, name: string, commits: number, rows: number): Promise<AppendResult[]> {
  const results: AppendResult[] = [];
  for (let c = 0; c < commits; c++) {
    const result = await appendRows(table, eventRows(`${name}-c${c}`, 0, rows));
    if (result) results.push(result);
  }
  return results;
}

function childWriter(database: string, name: string, commits: number, rows: number): Promise<AppendResult[]> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, warehouse, database, name, String(commits), String(rows)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) fail(new Error(`writer ${name} exited ${code}: ${err}`));
      else done(out.trim().split('\n').map((line) => JSON.parse(line) as AppendResult));
    });
  });
}

/** Every metadata version from 1 to the latest, in order. */
async function allVersions(table: IcebergTable<unknown>): Promise<TableMetadata[]> {
  const latest = (await loadTable(table)).version;
  return Promise.all(Array.from({ length: latest }, async (_, i) => (await readVersion(table, i + 1)).metadata));
}

/** The history is one line: version k+1 adds exactly one snapshot whose parent is version k's current one. */
async function expectLinearHistory(table: IcebergTable<unknown>, results: readonly Pick<AppendResult, 'snapshotId' | 'metadataVersion'>[]): Promise<void> {
  const versions = await allVersions(table);
  expect(versions[0]!.snapshots).toHaveLength(0);
  for (let k = 1; k < versions.length; k++) {
    const [before, after] = [versions[k - 1]!, versions[k]!];
    expect(after.snapshots.slice(0, -1)).toEqual(before.snapshots);
    const added = after.snapshots.at(-1)!;
    expect(added['sequence-number']).toBe(k);
    expect(added['parent-snapshot-id']).toBe(before.snapshots.length === 0 ? undefined : before['current-snapshot-id']);
    expect(after['current-snapshot-id']).toBe(added['snapshot-id']);
  }
  const last = versions.at(-1)!;
  // No commit lost: each writer's snapshot is in the table, under the version it reported.
  expect(new Set(last.snapshots.map((s) => s['snapshot-id']))).toEqual(new Set(results.map((r) => r.snapshotId)));
  for (const r of results) expect(versions[r.metadataVersion - 1]!['current-snapshot-id']).toBe(r.snapshotId);
}

function expectEachRowOnce(rows: readonly EventsRow[], expectedIds: readonly string[]): void {
  expect(rows).toHaveLength(expectedIds.length);
  expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(expectedIds));
}

const idsOf = (name: string, commits: number, rows: number) => Array.from({ length: commits }, (_, c) => eventRows(`${name}-c${c}`, 0, rows).map((r) => r.event_id)).flat();

describe('concurrent writers', () => {
  it('eight async writers in one process: every row lands once, the snapshot chain is linear', async () => {
    const table = await openTable({ warehouse, database: 'inproc' }, EVENTS_TABLE);
    const names = Array.from({ length: 8 }, (_, i) => `w${i}`);
    const results = (await Promise.all(names.map((n) => writer(table, n, 5, 40)))).flat();
    expect(results).toHaveLength(40);
    expect(Math.max(...results.map((r) => r.attempts))).toBeGreaterThan(1); // they did collide
    await expectLinearHistory(table, results);
    expectEachRowOnce(await readRows(table), names.flatMap((n) => idsOf(n, 5, 40)));
    const { metadata } = await loadTable(table);
    expect(metadata.snapshots.at(-1)!.summary['total-records']).toBe('1600');
  });

  it('separate processes and in-process writers at once: every row lands once, the chain is linear', async () => {
    const database = 'multiproc';
    const table = await openTable({ warehouse, database }, EVENTS_TABLE);
    const [children, local] = await Promise.all([
      Promise.all(['p0', 'p1', 'p2'].map((n) => childWriter(database, n, 6, 30))),
      Promise.all(['l0', 'l1'].map((n) => writer(table, n, 6, 30))),
    ]);
    const results = [...children.flat(), ...local.flat()];
    expect(results).toHaveLength(30);
    await expectLinearHistory(table, results);
    expectEachRowOnce(await readRows(table), ['p0', 'p1', 'p2', 'l0', 'l1'].flatMap((n) => idsOf(n, 6, 30)));
  });

  it('a compaction racing appends rebases over them: nothing lost, nothing doubled', async () => {
    const table = await openTable({ warehouse, database: 'compact-race' }, EVENTS_TABLE);
    const first = (await Promise.all(['a', 'b'].map((n) => writer(table, n, 4, 30)))).flat();
    const [compacted, appended] = await Promise.all([compact(table), Promise.all(['c', 'd', 'e'].map((n) => writer(table, n, 3, 30)))]);
    if (!compacted) throw new Error('nothing was compacted');
    expect(compacted.rewrittenFiles).toBe(24);
    // Appends committed while the compaction was rewriting: its snapshot went on top of them.
    expect(appended.flat().some((r) => r.metadataVersion < compacted.metadataVersion)).toBe(true);
    await expectLinearHistory(table, [...first, ...appended.flat(), compacted]);
    expectEachRowOnce(await readRows(table), [...['a', 'b'].flatMap((n) => idsOf(n, 4, 30)), ...['c', 'd', 'e'].flatMap((n) => idsOf(n, 3, 30))]);
    const { metadata } = await loadTable(table);
    expect(metadata.snapshots.at(-1)!.summary['total-records']).toBe('510');
  });

  it('two compactions at once: one replaces the files, the other gives up cleanly (no rows doubled, no files left behind)', async () => {
    const table = await openTable({ warehouse, database: 'compact-twice' }, EVENTS_TABLE);
    await Promise.all(['a', 'b'].map((n) => writer(table, n, 3, 30)));
    const outcomes = await Promise.allSettled([compact(table), compact(table)]);
    const done = outcomes.filter((o) => o.status === 'fulfilled' && o.value !== null);
    expect(done).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ name: 'ResourceError', retryable: true, message: expect.stringContaining('no longer in the table') });
    }
    expectEachRowOnce(await readRows(table), ['a', 'b'].flatMap((n) => idsOf(n, 3, 30)));
    // Data files on disk: the appends' (still referenced by older snapshots) and the winner's.
    const referenced = new Set<string>();
    for (const s of (await loadTable(table)).metadata.snapshots) {
      for (const f of (await listDataFiles(table, { snapshot: { snapshotId: s['snapshot-id'] } })).files) referenced.add(f.path);
    }
    const onDisk = (await readdir(join(table.dir, 'data'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    expect(onDisk.sort()).toEqual([...referenced].sort());
  });
});
