// Table metadata JSON: building a new table, adding or removing snapshots, and parsing what is on
// disk (an edge: the file may come from another engine, an older build, or be damaged).
import { z } from 'zod';
import { ResourceError } from '../errors';
import type { IcebergTableDefinition } from './table-definition';
import type { IcebergSchema, Snapshot, TableMetadata } from './types';

/** Previous metadata files the metadata log remembers (the spec's `write.metadata.previous-versions-max` default). */
export const METADATA_LOG_MAX = 100;

export const DEFAULT_TABLE_PROPERTIES: Readonly<Record<string, string>> = {
  'write.format.default': 'parquet',
  'write.parquet.compression-codec': 'snappy',
  'write.metadata.previous-versions-max': String(METADATA_LOG_MAX),
};

export interface NewTableArgs {
  readonly definition: IcebergTableDefinition<unknown>;
  readonly tableUuid: string;
  /** The table's base location URI, e.g. `file:///…/warehouse/fathom/events`. */
  readonly location: string;
  readonly timestampMs: number;
}

/** Metadata of a table that has no snapshot yet. */
export function newTableMetadata({ definition, tableUuid, location, timestampMs }: NewTableArgs): TableMetadata {
  return {
    'format-version': 2,
    'table-uuid': tableUuid,
    location,
    'last-sequence-number': 0,
    'last-updated-ms': timestampMs,
    'last-column-id': definition.lastColumnId,
    schemas: [definition.schema],
    'current-schema-id': definition.schema['schema-id'],
    'partition-specs': [definition.partitionSpec],
    'default-spec-id': definition.partitionSpec['spec-id'],
    'last-partition-id': definition.lastPartitionId,
    properties: DEFAULT_TABLE_PROPERTIES,
    'current-snapshot-id': -1,
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    'default-sort-order-id': 0,
    refs: {},
  };
}

export function currentSnapshot(metadata: TableMetadata): Snapshot | null {
  const id = metadata['current-snapshot-id'];
  if (id < 0) return null;
  return metadata.snapshots.find((s) => s['snapshot-id'] === id) ?? null;
}

export function currentSchema(metadata: TableMetadata): IcebergSchema {
  const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  if (!schema) throw new ResourceError(`table ${metadata.location}: current schema ${metadata['current-schema-id']} is not in its metadata`, metadata.location, false);
  return schema;
}

/** Whether two schemas have the same fields (ids, names, types, required): doc strings may differ. */
export function sameFields(a: IcebergSchema, b: IcebergSchema): boolean {
  const strip = (s: IcebergSchema) => JSON.stringify(s.fields.map((f) => [f.id, f.name, f.required, f.type]));
  return strip(a) === strip(b);
}

function logged(base: TableMetadata, baseLocation: string): TableMetadata['metadata-log'] {
  const log = [...base['metadata-log'], { 'timestamp-ms': base['last-updated-ms'], 'metadata-file': baseLocation }];
  return log.slice(-METADATA_LOG_MAX);
}

/** The metadata after committing `snapshot` on top of `base` (read from `baseLocation`). */
export function withSnapshot(base: TableMetadata, baseLocation: string, snapshot: Snapshot): TableMetadata {
  return {
    ...base,
    'last-sequence-number': snapshot['sequence-number'],
    'last-updated-ms': snapshot['timestamp-ms'],
    'current-snapshot-id': snapshot['snapshot-id'],
    snapshots: [...base.snapshots, snapshot],
    'snapshot-log': [...base['snapshot-log'], { 'timestamp-ms': snapshot['timestamp-ms'], 'snapshot-id': snapshot['snapshot-id'] }],
    'metadata-log': logged(base, baseLocation),
    refs: { ...base.refs, main: { 'snapshot-id': snapshot['snapshot-id'], type: 'branch' } },
  };
}

/**
 * The metadata without the given snapshots. The snapshot log keeps only the entries after the last
 * expired one, so that every entry names a snapshot that still exists (what Java does).
 */
export function withoutSnapshots(base: TableMetadata, baseLocation: string, expired: ReadonlySet<number>, timestampMs: number): TableMetadata {
  if (expired.has(base['current-snapshot-id'])) {
    throw new ResourceError(`table ${base.location}: the current snapshot ${base['current-snapshot-id']} cannot be expired`, base.location, false);
  }
  const log = base['snapshot-log'];
  let lastExpired = -1;
  log.forEach((entry, i) => {
    if (expired.has(entry['snapshot-id']) || !base.snapshots.some((s) => s['snapshot-id'] === entry['snapshot-id'])) lastExpired = i;
  });
  return {
    ...base,
    'last-updated-ms': Math.max(timestampMs, base['last-updated-ms']),
    snapshots: base.snapshots.filter((s) => !expired.has(s['snapshot-id'])),
    'snapshot-log': log.slice(lastExpired + 1),
    'metadata-log': logged(base, baseLocation),
  };
}

// ---------------------------------------------------------------------------------------------
// Parsing

const safeId = z.number().int().refine(Number.isSafeInteger, 'is beyond 2^53: this reader keeps ids as numbers');
const primitive = z.enum(['boolean', 'int', 'long', 'double', 'string', 'timestamptz', 'date']);
const fieldType = z.union([
  primitive,
  z.object({ type: z.literal('list'), 'element-id': z.number().int(), 'element-required': z.boolean(), element: primitive }),
]);
const schemaJson = z.looseObject({
  type: z.literal('struct'),
  'schema-id': z.number().int(),
  fields: z.array(z.looseObject({ id: z.number().int(), name: z.string(), required: z.boolean(), type: fieldType, doc: z.string().optional() })),
});
const snapshotJson = z.looseObject({
  'snapshot-id': safeId,
  'parent-snapshot-id': safeId.optional(),
  'sequence-number': z.number().int(),
  'timestamp-ms': z.number().int(),
  'manifest-list': z.string(),
  summary: z.looseObject({ operation: z.enum(['append', 'replace', 'overwrite', 'delete']) }).catchall(z.string()),
  'schema-id': z.number().int().optional(),
});
const metadataJson = z.looseObject({
  'format-version': z.literal(2, { error: 'this reader supports format version 2 only' }),
  'table-uuid': z.string(),
  location: z.string(),
  'last-sequence-number': z.number().int(),
  'last-updated-ms': z.number().int(),
  'last-column-id': z.number().int(),
  schemas: z.array(schemaJson).min(1),
  'current-schema-id': z.number().int(),
  'partition-specs': z.array(
    z.looseObject({
      'spec-id': z.number().int(),
      fields: z.array(z.looseObject({ 'source-id': z.number().int(), 'field-id': z.number().int(), name: z.string(), transform: z.string() })),
    }),
  ),
  'default-spec-id': z.number().int(),
  'last-partition-id': z.number().int(),
  properties: z.record(z.string(), z.string()).default({}),
  'current-snapshot-id': safeId.nullish().transform((v) => v ?? -1),
  snapshots: z.array(snapshotJson).default([]),
  'snapshot-log': z.array(z.looseObject({ 'timestamp-ms': z.number().int(), 'snapshot-id': safeId })).default([]),
  'metadata-log': z.array(z.looseObject({ 'timestamp-ms': z.number().int(), 'metadata-file': z.string() })).default([]),
  'sort-orders': z.array(z.looseObject({ 'order-id': z.number().int(), fields: z.array(z.unknown()) })),
  'default-sort-order-id': z.number().int(),
  refs: z.record(z.string(), z.looseObject({ 'snapshot-id': safeId, type: z.enum(['branch', 'tag']) })).default({}),
});

/** Parses a metadata file's JSON; `where` names the file in the error. */
export function parseTableMetadata(json: unknown, where: string): TableMetadata {
  const result = metadataJson.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue ? issue.path.map(String).join('.') : '';
    throw new ResourceError(`${where}: not valid Iceberg v2 table metadata at ${path || '(root)'}: ${issue?.message ?? 'invalid'}`, where, false);
  }
  const metadata: TableMetadata = result.data;
  return metadata;
}
