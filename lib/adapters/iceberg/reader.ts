// Reading a table at a snapshot: which data files make it up (current, by id, as of a time) and
// DuckDB over exactly those files. A reader pinned to a snapshot sees its rows whatever is
// committed later, because every file a snapshot names is immutable (until an expiry removes the
// snapshot and its files).
import { DuckDBInstance, type DuckDBConnection, type JS } from '@duckdb/node-api';
import { selectSnapshot, toLogicalRow, type IcebergTableDefinition, type PartitionTuple, type Snapshot, type SnapshotSelector, type TableColumn } from '../../core/iceberg';
import { ENTRY_STATUS } from '../../core/iceberg';
import { readSnapshotEntries } from './manifest-files';
import { loadTable, readVersion, toLocalPath, type IcebergTable } from './table';

export interface DataFileInfo {
  /** Local path. */
  readonly path: string;
  /** As the manifest records it (`file:///…`). */
  readonly uri: string;
  readonly partition: PartitionTuple;
  readonly recordCount: number;
  readonly fileSizeInBytes: number;
  /** Data sequence number: which commit's data the file holds. */
  readonly sequenceNumber: number;
}

export interface SnapshotFiles {
  /** Null for a table without snapshots: no files. */
  readonly snapshot: Snapshot | null;
  /** The metadata version the snapshot was resolved in. */
  readonly metadataVersion: number;
  readonly files: readonly DataFileInfo[];
}

export interface ReadOptions {
  /** Which snapshot (default: the current one). */
  readonly snapshot?: SnapshotSelector;
  /** Resolve the selector in this metadata version instead of the latest (icebird-style time travel). */
  readonly metadataVersion?: number;
}

/** The live data files of a snapshot (status ADDED or EXISTING in its manifests). */
export async function listDataFiles(table: IcebergTable<unknown>, options: ReadOptions = {}): Promise<SnapshotFiles> {
  const state = options.metadataVersion === undefined ? await loadTable(table) : await readVersion(table, options.metadataVersion);
  const snapshot = selectSnapshot(state.metadata, options.snapshot, table.name);
  const { entries } = await readSnapshotEntries(table, snapshot);
  const files = entries
    .filter((e) => e.status !== ENTRY_STATUS.deleted && e.data_file.content === 0)
    .map((e) => ({
      path: toLocalPath(e.data_file.file_path, table.name),
      uri: e.data_file.file_path,
      partition: e.data_file.partition,
      recordCount: e.data_file.record_count,
      fileSizeInBytes: e.data_file.file_size_in_bytes,
      sequenceNumber: e.sequence_number,
    }));
  return { snapshot, metadataVersion: state.version, files };
}

// ---------------------------------------------------------------------------------------------
// DuckDB

const DUCKDB_TYPES: Record<TableColumn['type'], string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamptz: 'TIMESTAMPTZ',
  'list<double>': 'DOUBLE[]',
};

const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * A view's SQL: the table's columns, in schema order, read from exactly these files. With no
 * files, an empty relation of the same columns and types (read_parquet refuses an empty list).
 */
export function viewSql(definition: IcebergTableDefinition<unknown>, paths: readonly string[]): string {
  if (paths.length === 0) {
    return `SELECT ${definition.columns.map((c) => `CAST(NULL AS ${DUCKDB_TYPES[c.type]}) AS ${ident(c.name)}`).join(', ')} WHERE false`;
  }
  // Hive partitioning off: the `event_time_day=…` folders must not add a column.
  return `SELECT ${definition.columns.map((c) => ident(c.name)).join(', ')} FROM read_parquet([${paths.map(literal).join(', ')}], hive_partitioning = false)`;
}

export interface TableSource extends ReadOptions {
  readonly table: IcebergTable<unknown>;
  /** View name (default: the table's name, e.g. `feature_log`). */
  readonly as?: string;
}

export interface QueryContext {
  readonly connection: DuckDBConnection;
  /** The snapshot each view reads, by view name. */
  readonly snapshots: Readonly<Record<string, Snapshot | null>>;
}

/**
 * Runs `query` on an in-memory DuckDB in which each source is a view over its snapshot's data
 * files, named after its table (or `as`): SQL can join `feature_log` to `labels` as of chosen
 * snapshots. The database is closed when `query` settles.
 */
export async function queryTables<T>(sources: readonly TableSource[], query: (context: QueryContext) => Promise<T>): Promise<T> {
  const listed = await Promise.all(sources.map(async (source) => ({ source, files: await listDataFiles(source.table, source) })));
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    try {
      const snapshots: Record<string, Snapshot | null> = {};
      for (const { source, files } of listed) {
        const view = source.as ?? source.table.definition.name;
        snapshots[view] = files.snapshot;
        await connection.run(`CREATE TEMP VIEW ${ident(view)} AS ${viewSql(source.table.definition as IcebergTableDefinition<unknown>, files.files.map((f) => f.path))}`);
      }
      return await query({ connection, snapshots });
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

export type QueryRow = Record<string, JS>;

/**
 * SQL over one table at a snapshot; the SQL names the table by its name (`SELECT count(*) FROM
 * events`). A string gives its rows (DuckDB's JS values: BIGINT as bigint, TIMESTAMPTZ as Date);
 * a function gets the connection and the view name for anything else.
 */
export function queryTable(table: IcebergTable<unknown>, sql: string, options?: ReadOptions): Promise<QueryRow[]>;
export function queryTable<T>(table: IcebergTable<unknown>, query: (connection: DuckDBConnection, view: string) => Promise<T>, options?: ReadOptions): Promise<T>;
export function queryTable<T>(
  table: IcebergTable<unknown>,
  query: string | ((connection: DuckDBConnection, view: string) => Promise<T>),
  options: ReadOptions = {},
): Promise<QueryRow[] | T> {
  const view = table.definition.name;
  return queryTables([{ ...options, table }], async ({ connection }) => {
    if (typeof query === 'string') return (await connection.runAndReadAll(query)).getRowObjectsJS();
    return query(connection, view);
  });
}

/** The SELECT list that reads a table's columns in physical form (timestamps as epoch microseconds). */
export function physicalSelect(definition: IcebergTableDefinition<unknown>): string {
  return definition.columns.map((c) => (c.type === 'timestamptz' ? `epoch_us(${ident(c.name)}) AS ${ident(c.name)}` : ident(c.name))).join(', ');
}

/** Every row of a snapshot, as writers gave them (timestamps as ISO 8601 UTC strings); order unspecified. */
export async function readRows<Row>(table: IcebergTable<Row>, options: ReadOptions = {}): Promise<Row[]> {
  const definition = table.definition;
  return queryTable(
    table,
    async (connection, view) => {
      const rows = (await connection.runAndReadAll(`SELECT ${physicalSelect(definition as IcebergTableDefinition<unknown>)} FROM ${ident(view)}`)).getRowObjectsJS();
      return rows.map((row) => toLogicalRow(definition, row));
    },
    options,
  );
}

/** Rows of the given data files in physical form, for rewriting them (compaction). */
export async function readPhysicalRows(definition: IcebergTableDefinition<unknown>, paths: readonly string[]): Promise<Record<string, JS>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(`SELECT ${physicalSelect(definition)} FROM (${viewSql(definition, paths)})`)).getRowObjectsJS();
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
