// SQL pieces the training-set builder and the backfill comparison share. Values are inlined as
// literals: they are bigints the code computed or strings escaped here, never raw user text.
import type { DuckDBConnection, JS } from '@duckdb/node-api';

export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * The order in which repeated feature_log rows of one event id are preferred (first wins):
 * on-time before late, earliest logged, then the remaining columns. It is preferRow in
 * lib/core/training-set/point-in-time.ts; the integration test holds the two to the same rows.
 */
export const PREFERRED_ROW_ORDER = 'late, logged_us, entity_id, t_us, features';

/**
 * feature_log rows of one feature set with event time in [fromUs, toUs), timestamps as epoch
 * microseconds (`t_us`, `logged_us`), from the view named `view`.
 */
export const featureLogRangeSql = (view: string, featureSet: string, fromUs: bigint, toUs: bigint): string =>
  `SELECT event_id, entity_id, epoch_us(event_time) AS t_us, features, late, epoch_us(logged_at) AS logged_us
     FROM ${ident(view)}
    WHERE epoch_us(event_time) >= ${fromUs} AND epoch_us(event_time) < ${toUs} AND feature_set = ${literal(featureSet)}`;

/** Rows of a query as objects (DuckDB's JS values). */
export async function rowsOf(connection: DuckDBConnection, sql: string): Promise<Record<string, JS>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJS();
}

/** The one value of a one-row, one-column query, as a number (counts come back as bigint). */
export async function numberOf(connection: DuckDBConnection, sql: string): Promise<number> {
  const [row] = await rowsOf(connection, sql);
  const value = row ? Object.values(row)[0] : undefined;
  return value === null || value === undefined ? 0 : Number(value);
}
