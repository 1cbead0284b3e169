// A table on the local file system, in the layout of Iceberg's file-system catalog (the one
// icebird, DuckDB and Spark's HadoopCatalog read):
//
//   <warehouse>/<database>/<table>/data/<partition>/<nnnnn>-<commit uuid>.parquet
//   <warehouse>/<database>/<table>/metadata/v<N>.metadata.json
//   <warehouse>/<database>/<table>/metadata/snap-<snapshot id>-<attempt>-<commit uuid>.avro  (manifest lists)
//   <warehouse>/<database>/<table>/metadata/<commit uuid>-m<k>.avro                          (manifests)
//   <warehouse>/<database>/<table>/metadata/version-hint.text
//
// A commit is the exclusive creation of v<N+1>.metadata.json: the new metadata is written to a
// temporary file and hard-linked to its final name, which fails with EEXIST if another writer got
// there first. The loser re-reads, re-plans on the winner's snapshot and tries N+2. The link makes
// the file appear whole, so a reader never sees half a metadata file.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ResourceError } from '../../core/errors';
import { currentSchema, newTableMetadata, parseTableMetadata, sameFields, type IcebergTableDefinition, type TableMetadata } from '../../core/iceberg';

export interface IcebergTable<Row> {
  readonly definition: IcebergTableDefinition<Row>;
  /** `<database>.<table>`, the name errors use. */
  readonly name: string;
  /** Absolute local folder of the table. */
  readonly dir: string;
  /** The table's location URI as its metadata records it (`file:///…`). */
  readonly location: string;
}

export interface WarehouseOptions {
  /** Root folder of the warehouse, e.g. `.fathom/warehouse`. */
  readonly warehouse: string;
  /** Database (Glue database on AWS); default `fathom`. */
  readonly database?: string;
}

export const DEFAULT_DATABASE = 'fathom';

/** The table as read: its metadata, the version number and the file it came from. */
export interface TableState {
  readonly version: number;
  readonly metadata: TableMetadata;
  /** Location URI of `v<version>.metadata.json`. */
  readonly metadataLocation: string;
}

export const metadataDir = (table: IcebergTable<unknown>): string => join(table.dir, 'metadata');
export const dataDir = (table: IcebergTable<unknown>): string => join(table.dir, 'data');
const versionFile = (table: IcebergTable<unknown>, version: number): string => join(metadataDir(table), `v${version}.metadata.json`);
const hintFile = (table: IcebergTable<unknown>): string => join(metadataDir(table), 'version-hint.text');

export const toUri = (path: string): string => pathToFileURL(path).href;

/** The local path of a location the table's metadata names; only `file:` locations are local. */
export function toLocalPath(uri: string, table: string): string {
  if (!uri.startsWith('file:')) throw new ResourceError(`${table}: ${uri} is not a local file location`, table, false);
  return fileURLToPath(uri);
}

const isErrno = (error: unknown, code: string): boolean => error instanceof Error && (error as NodeJS.ErrnoException).code === code;

/**
 * Opens a table, creating it (v1 metadata, no snapshot) if it does not exist. Several processes
 * may open the same new table at once: one creates it, the others find it. A table that exists
 * with other columns is refused rather than written with the wrong field ids.
 */
export async function openTable<Row>(options: WarehouseOptions, definition: IcebergTableDefinition<Row>): Promise<IcebergTable<Row>> {
  const database = options.database ?? DEFAULT_DATABASE;
  const dir = resolve(options.warehouse, database, definition.name);
  const table: IcebergTable<Row> = { definition, name: `${database}.${definition.name}`, dir, location: toUri(dir) };
  await mkdir(metadataDir(table), { recursive: true });
  await mkdir(dataDir(table), { recursive: true });
  if ((await latestVersion(table)) === 0) {
    const metadata = newTableMetadata({ definition, tableUuid: randomUUID(), location: table.location, timestampMs: Date.now() });
    await tryCreateVersion(table, 1, metadata);
    await publishVersionHint(table);
  }
  const state = await loadTable(table);
  const schema = currentSchema(state.metadata);
  if (!sameFields(schema, definition.schema)) {
    throw new ResourceError(`${table.name}: the table at ${dir} has other columns than the definition (field ids, names or types differ)`, table.name, false);
  }
  const spec = state.metadata['partition-specs'].find((s) => s['spec-id'] === state.metadata['default-spec-id']);
  if (JSON.stringify(spec?.fields) !== JSON.stringify(definition.partitionSpec.fields)) {
    throw new ResourceError(`${table.name}: the table at ${dir} is partitioned otherwise than the definition`, table.name, false);
  }
  return table;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** The highest committed version: from the hint, then forward while newer versions exist. 0 for none. */
export async function latestVersion(table: IcebergTable<unknown>): Promise<number> {
  let version = 0;
  try {
    const hinted = Number.parseInt(await readFile(hintFile(table), 'utf8'), 10);
    if (Number.isSafeInteger(hinted) && hinted > 0 && (await exists(versionFile(table, hinted)))) version = hinted;
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  if (version === 0) {
    // No usable hint (a crash before the first hint, or a hand-made table): list the folder.
    const names = await readdir(metadataDir(table)).catch((error: unknown) => (isErrno(error, 'ENOENT') ? [] : Promise.reject(error)));
    for (const name of names) {
      const m = /^v(\d+)\.metadata\.json$/.exec(name);
      if (m) version = Math.max(version, Number(m[1]));
    }
  }
  while (await exists(versionFile(table, version + 1))) version++;
  return version;
}

export async function readVersion(table: IcebergTable<unknown>, version: number): Promise<TableState> {
  const path = versionFile(table, version);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw new ResourceError(`${table.name}: metadata version ${version} does not exist`, table.name, false);
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ResourceError(`${table.name}: ${path} is not JSON`, table.name, false);
  }
  return { version, metadata: parseTableMetadata(json, path), metadataLocation: toUri(path) };
}

/** The table's current metadata. */
export async function loadTable(table: IcebergTable<unknown>): Promise<TableState> {
  const version = await latestVersion(table);
  if (version === 0) throw new ResourceError(`${table.name}: no table at ${table.dir}`, table.name, false);
  return readVersion(table, version);
}

/**
 * Creates `v<version>.metadata.json` if no writer has: true when this call created it. The file is
 * complete before it has its name (write a temporary file, then link: link never replaces).
 */
export async function tryCreateVersion(table: IcebergTable<unknown>, version: number, metadata: TableMetadata): Promise<boolean> {
  const temp = join(metadataDir(table), `.v${version}-${randomUUID()}.metadata.json.tmp`);
  await writeFile(temp, JSON.stringify(metadata), { flag: 'wx' });
  try {
    await link(temp, versionFile(table, version));
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    if (isErrno(error, 'EPERM') || isErrno(error, 'ENOTSUP') || isErrno(error, 'EXDEV')) {
      throw new ResourceError(`${table.name}: the file system at ${table.dir} does not support hard links, which atomic commits rely on`, table.name, false);
    }
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Points version-hint.text at the latest version. Writers race here too; each writes what it
 * finds latest and checks again, so the last one to finish leaves the true latest behind. Readers
 * of this module never trust the hint alone (they probe forward), icebird does: it may briefly see
 * the version before the latest, which is still a consistent snapshot.
 */
export async function publishVersionHint(table: IcebergTable<unknown>): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const latest = await latestVersion(table);
    const temp = join(metadataDir(table), `.version-hint-${randomUUID()}.tmp`);
    await writeFile(temp, String(latest));
    await rename(temp, hintFile(table));
    if ((await latestVersion(table)) === latest) return;
  }
}
