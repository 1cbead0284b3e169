// Feature backfill: recompute feature_log rows for an event-time range from the `events` table
// with the batch driver (lib/core/features, the reference semantics the stream is held to), and
// append them as one new snapshot (one atomic commit: a backfill lands whole or not at all).
//
// Where the rows go. The target is `feature_log` by default: rows of a new feature-set version
// (new definitions) sit there beside the stream's, and a training set picks one version. A
// backfill of a version the target already holds in the range is refused, because it would log
// those events twice and leave the training-set builder to pick between two sources. To check a
// backfill against the streamed log on unchanged definitions, write it to a separate table with
// feature_log's schema (`table: 'feature_log_backfill'`): the result then carries a
// per-feature comparison with feature_log.
//
// Events are read in DuckDB over one pinned snapshot of `events`, replayed from far enough back
// for every window to be complete (lib/core/training-set/backfill.ts explains how far), and
// deduplicated by event id (delivery is at least once; the first received copy wins, as in the
// stream).
import type { DuckDBConnection } from '@duckdb/node-api';
import { ConfigError, ResourceError, ValidationError } from '../core/errors';
import { FeatureEngine, referenceFeatureSet, type EngineOptions, type FeatureSet } from '../core/features';
import type { EntityVector } from '../core/features/drivers';
import { runBatch } from '../core/features/drivers';
import { currentSnapshot, type Snapshot, type SnapshotSelector } from '../core/iceberg';
import { formatTimestampMicros } from '../core/iceberg/timestamps';
import { EVENTS_TABLE, FEATURE_LOG_TABLE, OFFLINE_TABLES, type FeatureLogRow } from '../core/offline/tables';
import { CHANNELS, type TimedEvent } from '../core/schemas/event';
import { featureLogRowsOf, featureSetId, parseInstant, planBackfill, type BackfillHistory, type BackfillPlan } from '../core/training-set';
import { appendRows, listDataFiles, openTable, queryTables, type IcebergTable, type WarehouseOptions } from './iceberg';
import { featureLogRangeSql, ident, numberOf, PREFERRED_ROW_ORDER, rowsOf } from './training-set/sql';
import { openExistingTable } from './training-set/tables';

export const DEFAULT_BACKFILL_TABLE = 'feature_log';
const TABLE_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export interface BackfillOptions {
  readonly warehouse: WarehouseOptions;
  /** First event time recomputed (date or UTC timestamp). */
  readonly from: string;
  /** First event time not recomputed. */
  readonly to: string;
  /** The definitions to compute (default: the reference feature set). */
  readonly featureSet?: FeatureSet;
  readonly engineOptions?: EngineOptions;
  /** 'full' (default): cards in range replayed from their first event; 'window': only the windows. */
  readonly history?: BackfillHistory;
  /** Table the rows are appended to: `feature_log` (default) or a table with its schema. */
  readonly table?: string;
  /** Snapshot of `events` to read (default: the current one). */
  readonly eventsSnapshot?: SnapshotSelector;
  /** logged_at of the rows (default: now). */
  readonly now?: () => Date;
  readonly onProgress?: (event: BackfillProgress) => void;
}

export type BackfillProgress =
  | { readonly phase: 'reading'; readonly eventsSnapshot: number }
  | { readonly phase: 'replaying'; readonly events: number; readonly done: number }
  | { readonly phase: 'appending'; readonly rows: number; readonly table: string }
  | { readonly phase: 'comparing' };

/** How a backfill's rows compare with the streamed feature_log, event by event (one row per event id each side). */
export interface FeatureLogComparison {
  readonly reference: { readonly table: string; readonly snapshot_id: number };
  readonly candidate: { readonly table: string; readonly snapshot_id: number };
  /** Event ids on both sides. */
  readonly compared: number;
  readonly only_in_reference: number;
  readonly only_in_candidate: number;
  /** Compared events whose vectors differ in any feature. */
  readonly mismatched: number;
  /** Compared events the stream logged late (their vector saw later events: they may differ). */
  readonly reference_late: number;
  /** Per feature, the compared events whose value differs. */
  readonly per_feature: Record<string, number>;
}

export interface BackfillResult {
  readonly table: string;
  readonly featureSet: string;
  readonly plan: BackfillPlan;
  readonly eventsSnapshot: number;
  /** Events replayed (after deduplication), and duplicate copies dropped. */
  readonly eventsRead: number;
  readonly duplicateEvents: number;
  readonly rows: number;
  /** The snapshot the append committed; null when the range held no events. */
  readonly snapshotId: number | null;
  /** Present when the target is not feature_log: the new rows against feature_log's. */
  readonly comparison?: FeatureLogComparison;
  readonly seconds: number;
}

/** feature_log's definition under another name: the same columns, ids and partitioning. */
export function featureLogLikeTable(name: string) {
  return { ...FEATURE_LOG_TABLE, name };
}

function targetName(name: string | undefined): string {
  const table = name ?? DEFAULT_BACKFILL_TABLE;
  if (!TABLE_NAME.test(table)) throw new ConfigError(`table must be a lowercase table name (letters, digits, _); got "${table}"`, 'table');
  if (table !== DEFAULT_BACKFILL_TABLE && table in OFFLINE_TABLES) throw new ConfigError(`table: ${table} is an offline table with another schema`, 'table');
  return table;
}

export async function backfillFeatureLog(options: BackfillOptions): Promise<BackfillResult> {
  const started = performance.now();
  const report = options.onProgress ?? (() => {});
  const from = parseInstant('from', options.from);
  const to = parseInstant('to', options.to);
  if (from.micros >= to.micros) throw new ConfigError(`to (${to.iso}) must be after from (${from.iso})`, 'to');
  const engine = new FeatureEngine(options.featureSet ?? referenceFeatureSet, options.engineOptions);
  const featureSet = featureSetId(engine.featureSet);
  const plan = planBackfill(Number(from.micros / 1000n), Number(to.micros / 1000n), engine.longestSpanMs, options.history ?? 'full');
  const tableName = targetName(options.table);

  // `events` must exist (a wrong warehouse is an error, not an empty replay); feature_log belongs
  // beside it and is created when a warehouse has none yet.
  const events = await openExistingTable(options.warehouse, EVENTS_TABLE);
  const featureLog = await openTable(options.warehouse, FEATURE_LOG_TABLE);
  const target = tableName === DEFAULT_BACKFILL_TABLE ? featureLog : await openTable(options.warehouse, featureLogLikeTable(tableName));

  // The target must not already hold this version in the range: checked before any work, and again
  // at the commit against the table it would land on (a concurrent backfill of the same range may
  // have committed in between; the check and the commit are then one optimistic step).
  const refuseIfLogged = async (snapshot: SnapshotSelector | undefined, concurrent: boolean): Promise<void> => {
    const existing = await queryTables([{ table: target as IcebergTable<unknown>, as: 'target', ...(snapshot ? { snapshot } : {}) }], ({ connection }) =>
      numberOf(connection, `SELECT count(*) FROM (${featureLogRangeSql('target', featureSet, from.micros, to.micros)})`),
    );
    if (existing === 0) return;
    throw new ConfigError(
      `table: ${target.name} already holds ${existing} ${featureSet} rows with event time in [${from.iso}, ${to.iso})${concurrent ? ', committed while this backfill ran' : ''}; ` +
        `a backfill would log those events twice. ` +
        `Write it to a separate table (--table feature_log_backfill) to compare with the stream, or give new definitions a new feature-set version`,
      'table',
    );
  };
  const checked = (await listDataFiles(target as IcebergTable<unknown>)).snapshot?.['snapshot-id'] ?? null;
  await refuseIfLogged(checked === null ? undefined : { snapshotId: checked }, false);

  const listed = await listDataFiles(events as IcebergTable<unknown>, { snapshot: options.eventsSnapshot });
  if (!listed.snapshot) throw new ResourceError(`${events.name}: the table has no snapshot yet (nothing to replay)`, events.name, false);
  const eventsSnapshot = listed.snapshot['snapshot-id'];
  report({ phase: 'reading', eventsSnapshot });
  const { timed, duplicates } = await queryTables([{ table: events as IcebergTable<unknown>, snapshot: { snapshotId: eventsSnapshot } }], ({ connection }) =>
    readReplay(connection, plan, from.micros, to.micros),
  );

  const vectors: EntityVector[] = [];
  let done = 0;
  report({ phase: 'replaying', events: timed.length, done: 0 });
  runBatch(engine, timed, (v) => {
    if (v.ts >= plan.fromMs && v.ts < plan.toMs) vectors.push(v);
    if (++done % 100_000 === 0) report({ phase: 'replaying', events: timed.length, done });
  });
  report({ phase: 'replaying', events: timed.length, done });
  const rows: FeatureLogRow[] = featureLogRowsOf(vectors, plan, featureSet, (options.now?.() ?? new Date()).toISOString());

  report({ phase: 'appending', rows: rows.length, table: target.name });
  const appended = await appendRows(target, rows, {
    validate: async (base) => {
      const current = currentSnapshot(base.metadata)?.['snapshot-id'] ?? null;
      // Unchanged since the check above: nothing to read again.
      if (current === checked || current === null) return;
      await refuseIfLogged({ snapshotId: current }, true);
    },
  });
  const result = {
    table: target.name,
    featureSet,
    plan,
    eventsSnapshot,
    eventsRead: timed.length,
    duplicateEvents: duplicates,
    rows: rows.length,
    snapshotId: appended?.snapshotId ?? null,
  };
  if (target === featureLog || !appended) return { ...result, seconds: (performance.now() - started) / 1000 };
  report({ phase: 'comparing' });
  const comparison = await compareFeatureLogs({
    reference: { table: featureLog as IcebergTable<unknown> },
    candidate: { table: target as IcebergTable<unknown>, snapshot: { snapshotId: appended.snapshotId } },
    fromUs: from.micros,
    toUs: to.micros,
    featureSet,
    features: engine.names,
  });
  return { ...result, comparison, seconds: (performance.now() - started) / 1000 };
}

/** The events to replay, deduplicated by event id (the first received copy), as the engine's input. */
async function readReplay(connection: DuckDBConnection, plan: BackfillPlan, fromUs: bigint, toUs: bigint): Promise<{ timed: TimedEvent[]; duplicates: number }> {
  const startUs = BigInt(plan.windowStartMs) * 1000n;
  const t = 'epoch_us(event_time)';
  const activeCards = `SELECT DISTINCT entity_id FROM events WHERE ${t} >= ${fromUs} AND ${t} < ${toUs}`;
  const where = `${t} < ${toUs} AND (${t} >= ${startUs}${plan.fullCardHistory ? ` OR entity_id IN (${activeCards})` : ''})`;
  await connection.run(`CREATE TEMP TABLE replay_all AS SELECT *, ${t} AS t_us FROM events WHERE ${where}`);
  const all = await numberOf(connection, 'SELECT count(*) FROM replay_all');
  const rows = await rowsOf(
    connection,
    `SELECT event_id, entity_id, merchant_id, amount, currency, mcc, country, channel, t_us
       FROM replay_all QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at, raw) = 1`,
  );
  const timed = rows.map((r, i): TimedEvent => {
    const channel = String(r.channel);
    if (!(CHANNELS as readonly string[]).includes(channel)) {
      throw new ValidationError(`events row of ${String(r.event_id)}: channel "${channel}" is not one of ${CHANNELS.join(', ')}`, `events[${i}].channel`);
    }
    const us = r.t_us as bigint;
    // The table's rows were validated by the stream before they were logged; ids keep their form.
    return {
      event_id: String(r.event_id),
      entity_id: String(r.entity_id),
      merchant_id: String(r.merchant_id),
      amount: Number(r.amount),
      currency: String(r.currency),
      mcc: Number(r.mcc),
      country: String(r.country),
      channel: channel as TimedEvent['channel'],
      event_time: formatTimestampMicros(us),
      // Date.parse of the original ISO string truncates below the millisecond; so does this.
      ts: Number(us / 1000n),
    } as TimedEvent;
  });
  return { timed, duplicates: all - timed.length };
}

export interface CompareOptions {
  readonly reference: { readonly table: IcebergTable<unknown>; readonly snapshot?: SnapshotSelector };
  readonly candidate: { readonly table: IcebergTable<unknown>; readonly snapshot?: SnapshotSelector };
  readonly fromUs: bigint;
  readonly toUs: bigint;
  readonly featureSet: string;
  readonly features: readonly string[];
}

/**
 * Compares two feature logs (tables with feature_log's schema) over an event-time range and one
 * feature set, in DuckDB: one row per event id each side (the preferred row, as training sets
 * pick it), values compared exactly (null equals null).
 */
export async function compareFeatureLogs(options: CompareOptions): Promise<FeatureLogComparison> {
  const sources = [
    { table: options.reference.table, snapshot: options.reference.snapshot, as: 'reference' },
    { table: options.candidate.table, snapshot: options.candidate.snapshot, as: 'candidate' },
  ];
  return queryTables(sources, async ({ connection, snapshots }) => {
    const side = (view: string) =>
      `SELECT * FROM (${featureLogRangeSql(view, options.featureSet, options.fromUs, options.toUs)}) QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ${PREFERRED_ROW_ORDER}) = 1`;
    const both = 'r.event_id IS NOT NULL AND c.event_id IS NOT NULL';
    const perFeature = options.features.map((_, j) => `count(*) FILTER (WHERE ${both} AND r.features[${j + 1}] IS DISTINCT FROM c.features[${j + 1}]) AS ${ident(`f${j}`)}`);
    const [row] = await rowsOf(
      connection,
      `SELECT count(*) FILTER (WHERE ${both}) AS compared,
              count(*) FILTER (WHERE c.event_id IS NULL) AS only_r,
              count(*) FILTER (WHERE r.event_id IS NULL) AS only_c,
              count(*) FILTER (WHERE ${both} AND r.features IS DISTINCT FROM c.features) AS mismatched,
              count(*) FILTER (WHERE ${both} AND r.late) AS late,
              ${perFeature.join(',\n              ')}
         FROM (${side('reference')}) r FULL OUTER JOIN (${side('candidate')}) c ON r.event_id = c.event_id`,
    );
    const idOf = (s: Snapshot | null | undefined): number => s?.['snapshot-id'] ?? 0;
    return {
      reference: { table: options.reference.table.name, snapshot_id: idOf(snapshots.reference) },
      candidate: { table: options.candidate.table.name, snapshot_id: idOf(snapshots.candidate) },
      compared: Number(row!.compared),
      only_in_reference: Number(row!.only_r),
      only_in_candidate: Number(row!.only_c),
      mismatched: Number(row!.mismatched),
      reference_late: Number(row!.late),
      per_feature: Object.fromEntries(options.features.map((name, j) => [name, Number(row![`f${j}`])])),
    };
  });
}
