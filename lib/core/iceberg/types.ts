// The Iceberg format-v2 metadata model, as the spec serializes it (JSON keys kept verbatim, so a
// value of these types is exactly what lands in `v<N>.metadata.json` and what other engines read).

/** The primitive types the platform's tables use; the spec has more, none of which we write. */
export type IcebergPrimitiveType = 'boolean' | 'int' | 'long' | 'double' | 'string' | 'timestamptz' | 'date';

export interface IcebergListType {
  readonly type: 'list';
  readonly 'element-id': number;
  readonly 'element-required': boolean;
  readonly element: IcebergPrimitiveType;
}

export type IcebergType = IcebergPrimitiveType | IcebergListType;

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}

export interface IcebergSchema {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly fields: readonly IcebergField[];
}

export interface PartitionField {
  readonly 'source-id': number;
  readonly 'field-id': number;
  readonly name: string;
  /** `day` is the only transform this writer produces; metadata from elsewhere may name others. */
  readonly transform: string;
}

export interface PartitionSpec {
  readonly 'spec-id': number;
  readonly fields: readonly PartitionField[];
}

export interface SortOrder {
  readonly 'order-id': number;
  readonly fields: readonly unknown[];
}

export type SnapshotOperation = 'append' | 'replace' | 'overwrite' | 'delete';

/** Snapshot summary: `operation` plus the optional metrics of the spec's Appendix F, all strings. */
export type SnapshotSummary = { readonly operation: SnapshotOperation } & Readonly<Record<string, string>>;

export interface Snapshot {
  readonly 'snapshot-id': number;
  readonly 'parent-snapshot-id'?: number;
  readonly 'sequence-number': number;
  readonly 'timestamp-ms': number;
  readonly 'manifest-list': string;
  readonly summary: SnapshotSummary;
  readonly 'schema-id'?: number;
}

export interface SnapshotRef {
  readonly 'snapshot-id': number;
  readonly type: 'branch' | 'tag';
}

export interface SnapshotLogEntry {
  readonly 'timestamp-ms': number;
  readonly 'snapshot-id': number;
}

export interface MetadataLogEntry {
  readonly 'timestamp-ms': number;
  readonly 'metadata-file': string;
}

export interface TableMetadata {
  readonly 'format-version': 2;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number': number;
  readonly 'last-updated-ms': number;
  readonly 'last-column-id': number;
  readonly schemas: readonly IcebergSchema[];
  readonly 'current-schema-id': number;
  readonly 'partition-specs': readonly PartitionSpec[];
  readonly 'default-spec-id': number;
  readonly 'last-partition-id': number;
  readonly properties: Readonly<Record<string, string>>;
  /** -1 when the table has no snapshot yet, as the reference implementation writes for v2. */
  readonly 'current-snapshot-id': number;
  readonly snapshots: readonly Snapshot[];
  readonly 'snapshot-log': readonly SnapshotLogEntry[];
  readonly 'metadata-log': readonly MetadataLogEntry[];
  readonly 'sort-orders': readonly SortOrder[];
  readonly 'default-sort-order-id': number;
  readonly refs: Readonly<Record<string, SnapshotRef>>;
}

/** Which snapshot a reader wants: the current one, one by id, or the table as of a time. */
export type SnapshotSelector =
  | { readonly snapshotId: number }
  /** Epoch milliseconds: the last snapshot committed at or before it. */
  | { readonly asOfMs: number }
  | undefined;

// ---------------------------------------------------------------------------------------------
// Manifests (Avro), with the spec's field names

export const ENTRY_STATUS = { existing: 0, added: 1, deleted: 2 } as const;
export type EntryStatus = (typeof ENTRY_STATUS)[keyof typeof ENTRY_STATUS];

/** Partition tuple of a data file, keyed by partition field name; day values are days since 1970-01-01. */
export type PartitionTuple = Readonly<Record<string, number | null>>;

export interface ColumnMetric<T> {
  readonly key: number;
  readonly value: T;
}

export interface DataFile {
  /** 0: data; delete files (1, 2) are never written here. */
  readonly content: 0 | 1 | 2;
  /** Full URI with scheme, e.g. `file:///…/data/event_time_day=2024-05-01/00000-….parquet`. */
  readonly file_path: string;
  readonly file_format: string;
  readonly partition: PartitionTuple;
  readonly record_count: number;
  readonly file_size_in_bytes: number;
  readonly value_counts: readonly ColumnMetric<number>[] | null;
  readonly null_value_counts: readonly ColumnMetric<number>[] | null;
  readonly nan_value_counts: readonly ColumnMetric<number>[] | null;
  readonly lower_bounds: readonly ColumnMetric<Uint8Array>[] | null;
  readonly upper_bounds: readonly ColumnMetric<Uint8Array>[] | null;
}

export interface ManifestEntry {
  readonly status: EntryStatus;
  /** Null: inherited from the manifest list entry (added files only). */
  readonly snapshot_id: number | null;
  readonly sequence_number: number | null;
  readonly file_sequence_number: number | null;
  readonly data_file: DataFile;
}

/** A manifest entry with inheritance applied: every id and sequence number is known. */
export interface ResolvedEntry extends ManifestEntry {
  readonly snapshot_id: number;
  readonly sequence_number: number;
  readonly file_sequence_number: number;
}

export interface FieldSummary {
  readonly contains_null: boolean;
  readonly contains_nan: boolean | null;
  readonly lower_bound: Uint8Array | null;
  readonly upper_bound: Uint8Array | null;
}

/** One row of a manifest list (`manifest_file`). */
export interface ManifestFile {
  readonly manifest_path: string;
  readonly manifest_length: number;
  readonly partition_spec_id: number;
  /** 0: data, 1: deletes. */
  readonly content: 0 | 1;
  readonly sequence_number: number;
  readonly min_sequence_number: number;
  readonly added_snapshot_id: number;
  readonly added_files_count: number;
  readonly existing_files_count: number;
  readonly deleted_files_count: number;
  readonly added_rows_count: number;
  readonly existing_rows_count: number;
  readonly deleted_rows_count: number;
  readonly partitions: readonly FieldSummary[] | null;
}
