// `fathom offline snapshots|compact|expire`: the local offline store's maintenance, what Glue's
// table optimizers do on AWS (compaction, snapshot retention, orphan files) and what time travel
// needs to know (a table's snapshots). Safe beside a running `npm start`: every change is one
// atomic Iceberg commit that rebases over the Firehose endpoint's appends.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../core/errors';
import { OFFLINE_TABLE_NAMES, type OfflineTableName } from '../core/resources';
import { compact, DEFAULT_DATABASE, expireSnapshots, loadTable, offlineTable, openOfflineTables, type WarehouseOptions } from '../adapters/iceberg';
import { integerFlag, parseFlags, UsageError } from './args';
import { warehouseFromFlags } from './training-set';

export const OFFLINE_USAGE = `usage: fathom offline <snapshots|compact|expire> [options]
  snapshots               a table's snapshots (id, time, operation, rows added, total rows): the
                          ids that time travel, training sets and backfills pin
  compact                 rewrite each partition's small data files into one (a 'replace' snapshot
                          with the same rows), as Glue's compaction optimizer does
  expire --older-than D   drop snapshots older than D (e.g. 7d, 12h, 30m) except the newest
                          --retain-last N (default 1), then delete the files only they referenced
options:
  --table NAME            ${OFFLINE_TABLE_NAMES.join(', ')} (snapshots: required; otherwise default: all four)
  --target-file-mb N      compact: largest file it writes (default 128)
  --min-input-files N     compact: a partition needs at least this many files (default 2)
  --retain-last N         expire: snapshots always kept (default 1)
  --data-dir DIR          local state (default .fathom); the warehouse is DIR/warehouse
  --warehouse DIR         the Iceberg warehouse itself (overrides --data-dir)
  --database NAME         database in the warehouse (default fathom_offline)
  -h, --help              this text
The last line of stdout is a JSON summary.`;

type Action = 'snapshots' | 'compact' | 'expire';

export interface OfflineArgs {
  readonly action: Action;
  readonly tables: readonly OfflineTableName[];
  readonly warehouse: WarehouseOptions;
  readonly targetFileBytes: number | undefined;
  readonly minInputFiles: number | undefined;
  readonly olderThanMs: number | undefined;
  readonly retainLast: number;
}

const DURATION = /^(\d+)(d|h|m)$/;
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;

/** Reads the command line; `undefined` means --help. */
export function parseOfflineArgs(argv: readonly string[]): OfflineArgs | undefined {
  const [action, ...rest] = argv;
  if (action === undefined || action === '-h' || action === '--help') return undefined;
  if (action !== 'snapshots' && action !== 'compact' && action !== 'expire') throw new UsageError(`unknown action "${action}" (snapshots, compact or expire)`, 'action');
  const v = parseFlags(rest, {
    table: { type: 'string' },
    'target-file-mb': { type: 'string' },
    'min-input-files': { type: 'string' },
    'older-than': { type: 'string' },
    'retain-last': { type: 'string' },
    'data-dir': { type: 'string' },
    warehouse: { type: 'string' },
    database: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  if (v.table !== undefined && !(OFFLINE_TABLE_NAMES as readonly string[]).includes(v.table)) {
    throw new UsageError(`--table must be one of ${OFFLINE_TABLE_NAMES.join(', ')} (got "${v.table}")`, '--table');
  }
  if (action === 'snapshots' && v.table === undefined) throw new UsageError('--table is required for snapshots', '--table');
  const onlyFor = (flag: string, value: unknown, allowed: Action) => {
    if (value !== undefined && action !== allowed) throw new UsageError(`${flag} applies to ${allowed} only`, flag);
  };
  onlyFor('--target-file-mb', v['target-file-mb'], 'compact');
  onlyFor('--min-input-files', v['min-input-files'], 'compact');
  onlyFor('--older-than', v['older-than'], 'expire');
  onlyFor('--retain-last', v['retain-last'], 'expire');
  let olderThanMs: number | undefined;
  if (action === 'expire') {
    const m = DURATION.exec(v['older-than'] ?? '');
    if (!m) throw new UsageError(`--older-than must be a duration such as 7d, 12h or 30m (got ${v['older-than'] === undefined ? 'nothing' : `"${v['older-than']}"`})`, '--older-than');
    olderThanMs = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  const targetMb = integerFlag('--target-file-mb', v['target-file-mb'], 1, 4096);
  return {
    action,
    tables: v.table === undefined ? OFFLINE_TABLE_NAMES : [v.table as OfflineTableName],
    warehouse: warehouseFromFlags(v),
    targetFileBytes: targetMb === undefined ? undefined : targetMb * 1024 * 1024,
    minInputFiles: integerFlag('--min-input-files', v['min-input-files'], 2, 100_000),
    olderThanMs,
    retainLast: integerFlag('--retain-last', v['retain-last'], 1, 100_000) ?? 1,
  };
}

/** Runs the action; one JSON-ready result per table. */
export async function runOfflineAction(args: OfflineArgs, now = Date.now()): Promise<Record<string, unknown>> {
  const dir = join(args.warehouse.warehouse, args.warehouse.database ?? DEFAULT_DATABASE);
  // Opening creates missing tables: a mistyped directory would silently become an empty warehouse.
  if (!existsSync(dir)) throw new UsageError(`no offline store at ${dir} (start the platform with npm start, or pass --data-dir / --warehouse)`, '--data-dir');
  const tables = await openOfflineTables(args.warehouse);
  const out: Record<string, unknown> = {};
  for (const name of args.tables) {
    const table = offlineTable(tables, name);
    switch (args.action) {
      case 'snapshots': {
        const { metadata } = await loadTable(table);
        out[name] = metadata.snapshots.map((s) => ({
          snapshot_id: s['snapshot-id'],
          at: new Date(s['timestamp-ms']).toISOString(),
          operation: s.summary.operation,
          added_records: Number(s.summary['added-records'] ?? 0),
          total_records: Number(s.summary['total-records'] ?? 0),
          total_data_files: Number(s.summary['total-data-files'] ?? 0),
          current: s['snapshot-id'] === metadata['current-snapshot-id'],
        }));
        break;
      }
      case 'compact': {
        const r = await compact(table, {
          ...(args.targetFileBytes !== undefined ? { targetFileSizeBytes: args.targetFileBytes } : {}),
          ...(args.minInputFiles !== undefined ? { minInputFiles: args.minInputFiles } : {}),
        });
        out[name] = r ? { snapshot_id: r.snapshotId, partitions: r.partitions, rewritten_files: r.rewrittenFiles, added_files: r.addedFiles, records: r.records } : { nothing_to_compact: true };
        break;
      }
      case 'expire': {
        const r = await expireSnapshots(table, { olderThan: now - args.olderThanMs!, retainLast: args.retainLast });
        out[name] = {
          expired_snapshots: r.expiredSnapshotIds.length,
          deleted_data_files: r.deletedDataFiles,
          deleted_manifests: r.deletedManifests,
          deleted_manifest_lists: r.deletedManifestLists,
        };
        break;
      }
    }
  }
  return out;
}

export async function runOffline(argv: string[]): Promise<void> {
  try {
    const args = parseOfflineArgs(argv);
    if (!args) {
      process.stdout.write(`${OFFLINE_USAGE}\n`);
      return;
    }
    const started = performance.now();
    const tables = await runOfflineAction(args);
    process.stdout.write(`${JSON.stringify({ action: args.action, tables, seconds: Math.round((performance.now() - started) / 10) / 100 })}\n`);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom offline: ${error.message}\n${OFFLINE_USAGE}\n`);
    process.exitCode = 2;
  }
}
