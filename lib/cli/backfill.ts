// `fathom backfill`: recompute feature_log rows for an event-time range from the `events` table
// with the batch driver and append them as one new snapshot (or to a separate table, compared with
// feature_log). Progress on stderr, a JSON summary as the last line of stdout.
import { ValidationError } from '../core/errors';
import { KNOWN_FEATURE_SETS, resolveFeatureSet } from '../core/training-set';
import { backfillFeatureLog, DEFAULT_BACKFILL_TABLE, type BackfillOptions, type BackfillProgress } from '../adapters/backfill';
import { integerFlag, parseFlags, UsageError } from './args';
import { asFlagError, warehouseFromFlags } from './training-set';

export const BACKFILL_USAGE = `usage: fathom backfill --from DATE --to DATE [options]
  --from DATE|TIME      first event time recomputed (2026-01-01 or 2026-01-01T06:00:00Z)
  --to DATE|TIME        first event time not recomputed
  --feature-set ID      the definitions to compute (default and known: ${[...KNOWN_FEATURE_SETS.keys()].join(', ')})
  --table NAME          where the rows go (default ${DEFAULT_BACKFILL_TABLE}; refused if it already holds this
                        feature set in the range). Another name makes a separate table with feature_log's
                        schema, and the summary compares it with feature_log feature by feature
  --history full|window full (default): cards in range replay from their first event, exact for
                        every feature; window: only the 2 × 30-day windows before --from, cheaper,
                        may differ on card_foreign_country and card_seconds_since_prev for older cards
  --events-snapshot ID  read events at this snapshot (default: its current one)
  --data-dir DIR        local state (default .fathom); the warehouse is DIR/warehouse
  --warehouse DIR       the Iceberg warehouse itself (overrides --data-dir)
  --database NAME       database in the warehouse (default fathom_offline)
  -h, --help            this text
The last line of stdout is a JSON summary.`;

const FLAGS = { from: '--from', to: '--to', table: '--table', featureSet: '--feature-set' };

export function parseBackfillArgs(argv: readonly string[]): BackfillOptions | undefined {
  const v = parseFlags(argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    'feature-set': { type: 'string' },
    table: { type: 'string' },
    history: { type: 'string' },
    'events-snapshot': { type: 'string' },
    'data-dir': { type: 'string' },
    warehouse: { type: 'string' },
    database: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  for (const flag of ['from', 'to'] as const) if (!v[flag]) throw new UsageError(`--${flag} is required`, `--${flag}`);
  if (v.history !== undefined && v.history !== 'full' && v.history !== 'window') throw new UsageError(`--history must be full or window (got "${v.history}")`, '--history');
  let featureSet;
  try {
    featureSet = v['feature-set'] === undefined ? undefined : resolveFeatureSet(v['feature-set'], '--feature-set');
  } catch (error) {
    throw new UsageError((error as Error).message, '--feature-set');
  }
  const snapshot = integerFlag('--events-snapshot', v['events-snapshot'], -Number.MAX_SAFE_INTEGER);
  return {
    warehouse: warehouseFromFlags(v),
    from: v.from!,
    to: v.to!,
    featureSet,
    table: v.table,
    history: v.history as BackfillOptions['history'],
    eventsSnapshot: snapshot === undefined ? undefined : { snapshotId: snapshot },
  };
}

function progressPrinter(): (e: BackfillProgress) => void {
  const started = performance.now();
  const tty = process.stderr.isTTY === true;
  const s = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  let last = 0;
  return (e) => {
    switch (e.phase) {
      case 'reading':
        process.stderr.write(`backfill: reading events@${e.eventsSnapshot}\n`);
        return;
      case 'replaying': {
        const now = performance.now();
        if (e.done !== 0 && e.done !== e.events && now - last < (tty ? 100 : 5000)) return;
        last = now;
        const text = `backfill: replayed ${e.done.toLocaleString('en-US')} / ${e.events.toLocaleString('en-US')} events  ${s()}`;
        process.stderr.write(tty ? `\r\x1b[K${text}${e.done === e.events ? '\n' : ''}` : `${text}\n`);
        return;
      }
      case 'appending':
        process.stderr.write(`backfill: appending ${e.rows.toLocaleString('en-US')} rows to ${e.table}  ${s()}\n`);
        return;
      case 'comparing':
        process.stderr.write(`backfill: comparing with feature_log  ${s()}\n`);
        return;
    }
  };
}

export async function runBackfill(argv: string[]): Promise<void> {
  let options: BackfillOptions | undefined;
  try {
    options = parseBackfillArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom backfill: ${error.message}\n${BACKFILL_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (!options) {
    process.stdout.write(`${BACKFILL_USAGE}\n`);
    return;
  }
  const r = await backfillFeatureLog({ ...options, onProgress: progressPrinter() }).catch((error: unknown) => {
    throw asFlagError(error, FLAGS);
  });
  process.stdout.write(
    `${JSON.stringify({
      status: 'completed',
      table: r.table,
      feature_set: r.featureSet,
      rows: r.rows,
      snapshot_id: r.snapshotId,
      events_snapshot: r.eventsSnapshot,
      events_read: r.eventsRead,
      duplicate_events: r.duplicateEvents,
      replay_from: new Date(r.plan.windowStartMs).toISOString(),
      full_card_history: r.plan.fullCardHistory,
      ...(r.comparison ? { comparison: r.comparison } : {}),
      seconds: Math.round(r.seconds * 100) / 100,
    })}\n`,
  );
}
