// Reading and writing manifests and manifest lists. Both are immutable once written, so what was
// read is cached by location: a writer retrying a commit, or a reader listing files again, does
// not decode the same Avro twice.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MANIFEST_LIST_AVRO_SCHEMA,
  currentSchema,
  manifestEntryAvroSchema,
  manifestEntryFromAvro,
  manifestEntryToAvro,
  manifestFileFromAvro,
  manifestFileMetadata,
  manifestFileToAvro,
  manifestListMetadata,
  resolveEntries,
  summarizeManifest,
  type ManifestEntry,
  type ManifestFile,
  type PendingManifest,
  type ResolvedEntry,
  type Snapshot,
  type TableMetadata,
} from '../../core/iceberg';
import { decodeAvroFile, encodeAvroFile } from './avro-file';
import { metadataDir, toLocalPath, toUri, type IcebergTable } from './table';

const CACHE_LIMIT = 512;
const cache = new Map<string, readonly unknown[]>();

async function readAvroRecords(table: IcebergTable<unknown>, uri: string): Promise<readonly unknown[]> {
  const hit = cache.get(uri);
  if (hit) return hit;
  const records = decodeAvroFile(await readFile(toLocalPath(uri, table.name)), uri).records;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(uri, records);
  return records;
}

/** Writes a data manifest (spec of the table's default spec) and summarizes it for the manifest list. */
export async function writeManifest(table: IcebergTable<unknown>, metadata: TableMetadata, name: string, entries: readonly ManifestEntry[]): Promise<PendingManifest> {
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']) ?? table.definition.partitionSpec;
  const bytes = encodeAvroFile(manifestEntryAvroSchema(spec), entries.map(manifestEntryToAvro), manifestFileMetadata(currentSchema(metadata), spec));
  const path = join(metadataDir(table), name);
  await writeFile(path, bytes, { flag: 'wx' });
  return summarizeManifest(toUri(path), bytes.length, spec, entries);
}

export async function writeManifestList(table: IcebergTable<unknown>, path: string, snapshot: Snapshot, manifests: readonly ManifestFile[]): Promise<void> {
  const bytes = encodeAvroFile(MANIFEST_LIST_AVRO_SCHEMA, manifests.map(manifestFileToAvro), manifestListMetadata(snapshot['snapshot-id'], snapshot['parent-snapshot-id'], snapshot['sequence-number']));
  await writeFile(path, bytes, { flag: 'wx' });
}

/** The manifests of a snapshot; none for no snapshot. */
export async function readManifestList(table: IcebergTable<unknown>, snapshot: Snapshot | null): Promise<ManifestFile[]> {
  if (!snapshot) return [];
  const uri = snapshot['manifest-list'];
  const records = await readAvroRecords(table, uri);
  return records.map((r, i) => manifestFileFromAvro(r, `${uri} record ${i}`));
}

/** A manifest's entries, inheritance applied. */
export async function readManifest(table: IcebergTable<unknown>, manifest: ManifestFile): Promise<ResolvedEntry[]> {
  const uri = manifest.manifest_path;
  const records = await readAvroRecords(table, uri);
  return resolveEntries(records.map((r, i) => manifestEntryFromAvro(r, `${uri} record ${i}`)), manifest);
}

/** Every entry of a snapshot's manifests (deleted ones included), with the manifests. */
export async function readSnapshotEntries(table: IcebergTable<unknown>, snapshot: Snapshot | null): Promise<{ manifests: ManifestFile[]; entries: ResolvedEntry[] }> {
  const manifests = await readManifestList(table, snapshot);
  const perManifest = await Promise.all(manifests.filter((m) => m.content === 0).map((m) => readManifest(table, m)));
  return { manifests, entries: perManifest.flat() };
}
