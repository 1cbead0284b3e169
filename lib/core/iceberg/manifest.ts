// Manifests and manifest lists: their Avro schemas (with the spec's field ids, which is how other
// engines resolve the columns), the key-value metadata each file must carry, and the conversion of
// records to and from the model. Encoding the bytes is the adapter's job.
import { z } from 'zod';
import { ResourceError } from '../errors';
import { encodeBound } from './table-definition';
import type { DataFile, FieldSummary, IcebergSchema, ManifestEntry, ManifestFile, PartitionSpec, PartitionTuple, ResolvedEntry } from './types';
import { ENTRY_STATUS } from './types';

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
/** An Avro schema, as JSON. */
export type AvroSchema = Json;
/** A value as an Avro record field holds it: longs are numbers, bytes are Uint8Array. */
export type AvroValue = null | boolean | number | string | Uint8Array | readonly AvroValue[] | { readonly [key: string]: AvroValue };

const optional = (type: AvroSchema): AvroSchema => ['null', type];

/** `map<int, T>` as Iceberg writes it in Avro: an array of key/value records with logicalType map. */
function intMap(name: string, fieldId: number, keyId: number, valueId: number, value: 'long' | 'bytes'): Json {
  return {
    name,
    type: optional({
      type: 'array',
      logicalType: 'map',
      items: {
        type: 'record',
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: 'key', type: 'int', 'field-id': keyId },
          { name: 'value', type: value, 'field-id': valueId },
        ],
      },
    }),
    default: null,
    'field-id': fieldId,
  };
}

/** The `manifest_entry` schema of a v2 data manifest for one partition spec. */
export function manifestEntryAvroSchema(spec: PartitionSpec): AvroSchema {
  const partition: Json = {
    type: 'record',
    name: 'r102',
    fields: spec.fields.map((f) => ({ name: f.name, type: optional('int'), default: null, 'field-id': f['field-id'] })),
  };
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: optional('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: optional('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: optional('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: partition, 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            intMap('column_sizes', 108, 117, 118, 'long'),
            intMap('value_counts', 109, 119, 120, 'long'),
            intMap('null_value_counts', 110, 121, 122, 'long'),
            intMap('nan_value_counts', 137, 138, 139, 'long'),
            intMap('lower_bounds', 125, 126, 127, 'bytes'),
            intMap('upper_bounds', 128, 129, 130, 'bytes'),
            { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 131 },
            { name: 'split_offsets', type: optional({ type: 'array', items: 'long', 'element-id': 133 }), default: null, 'field-id': 132 },
            { name: 'equality_ids', type: optional({ type: 'array', items: 'int', 'element-id': 136 }), default: null, 'field-id': 135 },
            { name: 'sort_order_id', type: optional('int'), default: null, 'field-id': 140 },
          ],
        },
      },
    ],
  };
}

/** The v2 `manifest_file` schema of a manifest list. */
export const MANIFEST_LIST_AVRO_SCHEMA: AvroSchema = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      type: optional({
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            { name: 'contains_nan', type: optional('boolean'), default: null, 'field-id': 518 },
            { name: 'lower_bound', type: optional('bytes'), default: null, 'field-id': 510 },
            { name: 'upper_bound', type: optional('bytes'), default: null, 'field-id': 511 },
          ],
        },
      }),
      default: null,
      'field-id': 507,
    },
    { name: 'key_metadata', type: optional('bytes'), default: null, 'field-id': 519 },
  ],
};

/** Key-value metadata a v2 data manifest must carry (spec, Manifest Metadata). */
export function manifestFileMetadata(schema: IcebergSchema, spec: PartitionSpec): Record<string, string> {
  return {
    schema: JSON.stringify(schema),
    'schema-id': String(schema['schema-id']),
    'partition-spec': JSON.stringify(spec.fields),
    'partition-spec-id': String(spec['spec-id']),
    'format-version': '2',
    content: 'data',
  };
}

/** Key-value metadata of a manifest list, as the reference implementation writes it. */
export function manifestListMetadata(snapshotId: number, parentSnapshotId: number | undefined, sequenceNumber: number): Record<string, string> {
  return {
    'snapshot-id': String(snapshotId),
    'parent-snapshot-id': parentSnapshotId === undefined ? 'null' : String(parentSnapshotId),
    'sequence-number': String(sequenceNumber),
    'format-version': '2',
  };
}

// ---------------------------------------------------------------------------------------------
// Records

export function manifestEntryToAvro(entry: ManifestEntry): AvroValue {
  const f = entry.data_file;
  const map = <T extends number | Uint8Array>(m: readonly { key: number; value: T }[] | null): AvroValue => (m ? m.map((e) => ({ key: e.key, value: e.value })) : null);
  return {
    status: entry.status,
    snapshot_id: entry.snapshot_id,
    sequence_number: entry.sequence_number,
    file_sequence_number: entry.file_sequence_number,
    data_file: {
      content: f.content,
      file_path: f.file_path,
      file_format: f.file_format,
      partition: { ...f.partition },
      record_count: f.record_count,
      file_size_in_bytes: f.file_size_in_bytes,
      column_sizes: null,
      value_counts: map(f.value_counts),
      null_value_counts: map(f.null_value_counts),
      nan_value_counts: map(f.nan_value_counts),
      lower_bounds: map(f.lower_bounds),
      upper_bounds: map(f.upper_bounds),
      key_metadata: null,
      split_offsets: null,
      equality_ids: null,
      sort_order_id: null,
    },
  };
}

export function manifestFileToAvro(m: ManifestFile): AvroValue {
  return {
    manifest_path: m.manifest_path,
    manifest_length: m.manifest_length,
    partition_spec_id: m.partition_spec_id,
    content: m.content,
    sequence_number: m.sequence_number,
    min_sequence_number: m.min_sequence_number,
    added_snapshot_id: m.added_snapshot_id,
    added_files_count: m.added_files_count,
    existing_files_count: m.existing_files_count,
    deleted_files_count: m.deleted_files_count,
    added_rows_count: m.added_rows_count,
    existing_rows_count: m.existing_rows_count,
    deleted_rows_count: m.deleted_rows_count,
    partitions: m.partitions ? m.partitions.map((p) => ({ ...p })) : null,
    key_metadata: null,
  };
}

const long = z.number().int().refine(Number.isSafeInteger, 'is beyond 2^53');
const bytes = z.instanceof(Uint8Array);
const metric = <T extends z.ZodType>(value: T) => z.array(z.object({ key: z.number().int(), value })).nullish().transform((v) => v ?? null);

const dataFileRecord = z.object({
  content: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  file_path: z.string(),
  file_format: z.string(),
  partition: z.record(z.string(), z.number().int().nullable()),
  record_count: long,
  file_size_in_bytes: long,
  value_counts: metric(long),
  null_value_counts: metric(long),
  nan_value_counts: metric(long),
  lower_bounds: metric(bytes),
  upper_bounds: metric(bytes),
});
const manifestEntryRecord = z.object({
  status: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  snapshot_id: long.nullish().transform((v) => v ?? null),
  sequence_number: long.nullish().transform((v) => v ?? null),
  file_sequence_number: long.nullish().transform((v) => v ?? null),
  data_file: dataFileRecord,
});
const manifestFileRecord = z.object({
  manifest_path: z.string(),
  manifest_length: long,
  partition_spec_id: z.number().int(),
  content: z.union([z.literal(0), z.literal(1)]),
  sequence_number: long,
  min_sequence_number: long,
  added_snapshot_id: long,
  added_files_count: z.number().int(),
  existing_files_count: z.number().int(),
  deleted_files_count: z.number().int(),
  added_rows_count: long,
  existing_rows_count: long,
  deleted_rows_count: long,
  partitions: z
    .array(z.object({ contains_null: z.boolean(), contains_nan: z.boolean().nullish().transform((v) => v ?? null), lower_bound: bytes.nullish().transform((v) => v ?? null), upper_bound: bytes.nullish().transform((v) => v ?? null) }))
    .nullish()
    .transform((v) => v ?? null),
});

function parseRecord<T>(schema: z.ZodType<T>, record: unknown, where: string): T {
  const result = schema.safeParse(record);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ResourceError(`${where}: not a valid Iceberg record at ${issue ? issue.path.map(String).join('.') : ''}: ${issue?.message ?? 'invalid'}`, where, false);
}

export function manifestEntryFromAvro(record: unknown, where: string): ManifestEntry {
  const entry: ManifestEntry = parseRecord(manifestEntryRecord, record, where);
  return entry;
}

export function manifestFileFromAvro(record: unknown, where: string): ManifestFile {
  const file: ManifestFile = parseRecord(manifestFileRecord, record, where);
  return file;
}

/**
 * Applies v2 inheritance: an added entry's null snapshot id and sequence numbers come from the
 * manifest list; existing and deleted entries must carry their own (spec, Sequence Number Inheritance).
 */
export function resolveEntries(entries: readonly ManifestEntry[], manifest: ManifestFile): ResolvedEntry[] {
  return entries.map((e) => {
    const inherit = e.status === ENTRY_STATUS.added;
    const sequence = e.sequence_number ?? (inherit ? manifest.sequence_number : null);
    const fileSequence = e.file_sequence_number ?? (inherit ? manifest.sequence_number : null);
    if (sequence === null || fileSequence === null) {
      throw new ResourceError(`${manifest.manifest_path}: ${e.data_file.file_path} has status ${e.status} but no sequence numbers`, manifest.manifest_path, false);
    }
    return { ...e, snapshot_id: e.snapshot_id ?? manifest.added_snapshot_id, sequence_number: sequence, file_sequence_number: fileSequence };
  });
}

// ---------------------------------------------------------------------------------------------
// Manifest list entries

/** A manifest written for a commit, before the commit knows its sequence number and snapshot id. */
export interface PendingManifest {
  readonly path: string;
  readonly length: number;
  readonly specId: number;
  readonly addedFiles: number;
  readonly existingFiles: number;
  readonly deletedFiles: number;
  readonly addedRows: number;
  readonly existingRows: number;
  readonly deletedRows: number;
  /** Smallest data sequence number among live existing entries; null when it has none. */
  readonly minExistingSequenceNumber: number | null;
  readonly partitions: readonly FieldSummary[];
}

/** Counts and partition summaries of the entries a manifest is about to hold. */
export function summarizeManifest(path: string, length: number, spec: PartitionSpec, entries: readonly ManifestEntry[]): PendingManifest {
  let addedFiles = 0, existingFiles = 0, deletedFiles = 0, addedRows = 0, existingRows = 0, deletedRows = 0;
  let minExisting: number | null = null;
  for (const e of entries) {
    const rows = e.data_file.record_count;
    if (e.status === ENTRY_STATUS.added) {
      addedFiles++;
      addedRows += rows;
    } else if (e.status === ENTRY_STATUS.existing) {
      existingFiles++;
      existingRows += rows;
      if (e.sequence_number !== null) minExisting = minExisting === null ? e.sequence_number : Math.min(minExisting, e.sequence_number);
    } else {
      deletedFiles++;
      deletedRows += rows;
    }
  }
  return {
    path,
    length,
    specId: spec['spec-id'],
    addedFiles,
    existingFiles,
    deletedFiles,
    addedRows,
    existingRows,
    deletedRows,
    minExistingSequenceNumber: minExisting,
    partitions: partitionSummaries(spec, entries.map((e) => e.data_file.partition)),
  };
}

/** The manifest list row of a pending manifest, now that the commit's sequence number is known. */
export function toManifestFile(m: PendingManifest, sequenceNumber: number, snapshotId: number): ManifestFile {
  const hasAdded = m.addedFiles > 0;
  const min = m.minExistingSequenceNumber === null ? sequenceNumber : hasAdded ? Math.min(sequenceNumber, m.minExistingSequenceNumber) : m.minExistingSequenceNumber;
  return {
    manifest_path: m.path,
    manifest_length: m.length,
    partition_spec_id: m.specId,
    content: 0,
    sequence_number: sequenceNumber,
    min_sequence_number: min,
    added_snapshot_id: snapshotId,
    added_files_count: m.addedFiles,
    existing_files_count: m.existingFiles,
    deleted_files_count: m.deletedFiles,
    added_rows_count: m.addedRows,
    existing_rows_count: m.existingRows,
    deleted_rows_count: m.deletedRows,
    partitions: m.partitions,
  };
}

/** Per partition field: whether any file's value is null, and the lowest and highest day. */
export function partitionSummaries(spec: PartitionSpec, tuples: readonly PartitionTuple[]): FieldSummary[] {
  return spec.fields.map((field) => {
    let containsNull = false;
    let low: number | undefined;
    let high: number | undefined;
    for (const tuple of tuples) {
      const v = tuple[field.name];
      if (v === null || v === undefined) containsNull = true;
      else {
        low = low === undefined ? v : Math.min(low, v);
        high = high === undefined ? v : Math.max(high, v);
      }
    }
    return {
      contains_null: containsNull,
      contains_nan: false,
      lower_bound: low === undefined ? null : encodeBound('int', low),
      upper_bound: high === undefined ? null : encodeBound('int', high),
    };
  });
}

/** A data file entry as an append adds it: sequence numbers and snapshot id left to inheritance. */
export function addedEntry(dataFile: DataFile): ManifestEntry {
  return { status: ENTRY_STATUS.added, snapshot_id: null, sequence_number: null, file_sequence_number: null, data_file: dataFile };
}
