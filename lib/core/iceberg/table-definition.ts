// A table defined once: its zod row schema (what writers validate), its columns (what Parquet and
// Iceberg store) and its partitioning. Field ids come from the order of the columns and can never
// change once a table exists: the unit tests pin them.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { formatTimestampMicros, parseTimestampMicros } from './timestamps';
import { partitionSources, type PhysicalRow, type PhysicalValue } from './transforms';
import type { ColumnMetric, IcebergField, IcebergSchema, IcebergType, PartitionSpec } from './types';

export type ColumnType = 'string' | 'int' | 'double' | 'boolean' | 'timestamptz' | 'list<double>';

export interface ColumnDefinition {
  readonly type: ColumnType;
  readonly doc: string;
  /** Columns are required unless marked optional; an optional column's zod schema must accept null. */
  readonly optional?: boolean;
}

export interface TableColumn extends ColumnDefinition {
  readonly name: string;
  readonly fieldId: number;
  /** Field id of a list's element. */
  readonly elementId?: number;
}

export interface TableSpec<Row> {
  readonly name: string;
  readonly doc: string;
  /** A zod object schema; its keys must be exactly the columns' keys. */
  readonly row: z.ZodType<Row>;
  /** In field-id order: the first column gets id 1. */
  readonly columns: { readonly [K in keyof Row]-?: ColumnDefinition };
  readonly partitionBy: { readonly column: keyof Row & string; readonly transform: 'day' };
}

export interface IcebergTableDefinition<Row> {
  readonly name: string;
  readonly doc: string;
  readonly rowSchema: z.ZodType<Row>;
  readonly columns: readonly TableColumn[];
  readonly schema: IcebergSchema;
  readonly partitionSpec: PartitionSpec;
  readonly lastColumnId: number;
  readonly lastPartitionId: number;
}

/** The row type of a table definition. */
export type RowOf<D> = D extends IcebergTableDefinition<infer Row> ? Row : never;

/** First partition field id, as the reference implementation assigns them. */
export const FIRST_PARTITION_FIELD_ID = 1000;

export function defineTable<Row>(spec: TableSpec<Row>): IcebergTableDefinition<Row> {
  const entries = Object.entries(spec.columns) as [string, ColumnDefinition][];
  if (spec.row instanceof z.ZodObject) {
    const rowKeys = Object.keys(spec.row.shape).sort();
    const columnKeys = entries.map(([name]) => name).sort();
    if (rowKeys.join(',') !== columnKeys.join(',')) {
      throw new ValidationError(`${spec.name}: row schema keys [${rowKeys}] differ from column keys [${columnKeys}]`, `${spec.name}.columns`);
    }
  }
  // Top-level fields first, then list elements: the order the reference implementation assigns ids in.
  let nextId = entries.length + 1;
  const columns: TableColumn[] = entries.map(([name, def], i) => ({
    ...def,
    name,
    fieldId: i + 1,
    ...(def.type === 'list<double>' ? { elementId: nextId++ } : {}),
  }));
  const fields: IcebergField[] = columns.map((c) => ({ id: c.fieldId, name: c.name, required: c.optional !== true, type: icebergType(c), doc: c.doc }));
  const schema: IcebergSchema = { type: 'struct', 'schema-id': 0, fields };
  const source = columns.find((c) => c.name === spec.partitionBy.column);
  if (!source) throw new ValidationError(`${spec.name}: partition column ${spec.partitionBy.column} is not a column`, `${spec.name}.partitionBy`);
  const partitionSpec: PartitionSpec = {
    'spec-id': 0,
    fields: [{ 'source-id': source.fieldId, 'field-id': FIRST_PARTITION_FIELD_ID, name: `${source.name}_day`, transform: spec.partitionBy.transform }],
  };
  // Fails now, at definition, rather than at the first write.
  partitionSources(schema, partitionSpec, spec.name);
  return {
    name: spec.name,
    doc: spec.doc,
    rowSchema: spec.row,
    columns,
    schema,
    partitionSpec,
    lastColumnId: nextId - 1,
    lastPartitionId: FIRST_PARTITION_FIELD_ID,
  };
}

function icebergType(column: TableColumn): IcebergType {
  if (column.type === 'list<double>') {
    // Elements are optional: null is the missing-feature marker (NaN cannot travel in JSON).
    return { type: 'list', 'element-id': column.elementId ?? 0, 'element-required': false, element: 'double' };
  }
  return column.type;
}

// ---------------------------------------------------------------------------------------------
// Row validation and conversion

export type RowResult<Row> = { readonly ok: true; readonly row: Row } | { readonly ok: false; readonly error: ValidationError };

/** Validates one input row; the error names the field as `<where>.<field>`, e.g. `rows[3].amount`. */
export function parseRow<Row>(table: IcebergTableDefinition<Row>, input: unknown, where: string): RowResult<Row> {
  const result = table.rowSchema.safeParse(input);
  if (result.success) return { ok: true, row: result.data };
  const issue = result.error.issues[0];
  let path = issue ? issue.path.map(String).join('.') : '';
  if (issue?.code === 'unrecognized_keys') path = [path, issue.keys[0]].filter(Boolean).join('.');
  const field = path ? `${where}.${path}` : where;
  const message = issue?.code === 'unrecognized_keys' ? `is not a column of ${table.name}` : (issue?.message ?? 'invalid');
  return { ok: false, error: new ValidationError(`${table.name} ${field}: ${message}`, field) };
}

/** Validates every row, all or nothing: the first bad one throws, naming `rows[i].<field>`. */
export function parseRows<Row>(table: IcebergTableDefinition<Row>, inputs: readonly unknown[]): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const result = parseRow(table, inputs[i], `rows[${i}]`);
    if (!result.ok) throw result.error;
    rows.push(result.row);
  }
  return rows;
}

/** The row as Parquet stores it: timestamps become microseconds. Expects a row parseRow accepted. */
export function toPhysicalRow<Row>(table: IcebergTableDefinition<Row>, row: Row): PhysicalRow {
  const input = row as Readonly<Record<string, unknown>>;
  const out: Record<string, PhysicalValue> = {};
  for (const column of table.columns) {
    const value = input[column.name];
    if (value === null || value === undefined) {
      if (column.optional !== true) throw new ValidationError(`${table.name} ${column.name}: is required`, column.name);
      out[column.name] = null;
      continue;
    }
    switch (column.type) {
      case 'timestamptz': {
        const micros = typeof value === 'string' ? parseTimestampMicros(value) : undefined;
        if (micros === undefined) throw new ValidationError(`${table.name} ${column.name}: must be an ISO 8601 UTC timestamp`, column.name);
        out[column.name] = micros;
        break;
      }
      case 'list<double>':
        out[column.name] = (value as readonly (number | null)[]).map((v) => (v === null || Number.isNaN(v) ? null : v));
        break;
      default:
        out[column.name] = value as PhysicalValue;
    }
  }
  return out;
}

/** The row as writers gave it, from its physical form (timestamps back to ISO 8601 UTC strings). */
export function toLogicalRow<Row>(table: IcebergTableDefinition<Row>, physical: Readonly<Record<string, unknown>>): Row {
  const out: Record<string, unknown> = {};
  for (const column of table.columns) {
    const value = physical[column.name];
    if (value === null || value === undefined) out[column.name] = null;
    else if (column.type === 'timestamptz') out[column.name] = formatTimestampMicros(typeof value === 'bigint' ? value : BigInt(value as number));
    else if (column.type === 'int' || column.type === 'double') out[column.name] = Number(value);
    else out[column.name] = value;
  }
  // The caller read these columns through a view typed by the table's schema.
  return out as Row;
}

// ---------------------------------------------------------------------------------------------
// Column metrics for manifests (optional in the spec; they let engines skip files)

export interface FileMetrics {
  readonly value_counts: ColumnMetric<number>[];
  readonly null_value_counts: ColumnMetric<number>[];
  readonly nan_value_counts: ColumnMetric<number>[];
  readonly lower_bounds: ColumnMetric<Uint8Array>[];
  readonly upper_bounds: ColumnMetric<Uint8Array>[];
}

/**
 * Counts for every top-level column and bounds for int, double and timestamptz columns (Appendix D
 * single-value serialization). Strings get no bounds: a correct truncated upper bound is more
 * machinery than a platform table needs. List columns get none either.
 */
export function fileMetrics(table: IcebergTableDefinition<unknown>, rows: readonly PhysicalRow[]): FileMetrics {
  const metrics: FileMetrics = { value_counts: [], null_value_counts: [], nan_value_counts: [], lower_bounds: [], upper_bounds: [] };
  for (const column of table.columns) {
    if (column.type === 'list<double>') continue;
    const key = column.fieldId;
    let nulls = 0;
    let nans = 0;
    let low: number | bigint | undefined;
    let high: number | bigint | undefined;
    for (const row of rows) {
      const v = row[column.name];
      if (v === null || v === undefined) {
        nulls++;
        continue;
      }
      if (typeof v === 'number' && Number.isNaN(v)) {
        nans++;
        continue;
      }
      if (typeof v === 'number' || typeof v === 'bigint') {
        // -0.0 must sort before +0.0 in bounds (spec, Manifests).
        if (low === undefined || v < low || (v === low && Object.is(v, -0))) low = v;
        if (high === undefined || v > high || (v === high && Object.is(high, -0))) high = v;
      }
    }
    metrics.value_counts.push({ key, value: rows.length });
    metrics.null_value_counts.push({ key, value: nulls });
    if (column.type === 'double') metrics.nan_value_counts.push({ key, value: nans });
    if (low !== undefined && high !== undefined && (column.type === 'int' || column.type === 'double' || column.type === 'timestamptz')) {
      metrics.lower_bounds.push({ key, value: encodeBound(column.type, low) });
      metrics.upper_bounds.push({ key, value: encodeBound(column.type, high) });
    }
  }
  return metrics;
}

/** Appendix D binary single-value serialization, little-endian. */
export function encodeBound(type: 'int' | 'double' | 'timestamptz', value: number | bigint): Uint8Array {
  const bytes = new Uint8Array(type === 'int' ? 4 : 8);
  const view = new DataView(bytes.buffer);
  if (type === 'int') view.setInt32(0, Number(value), true);
  else if (type === 'double') view.setFloat64(0, Number(value), true);
  else view.setBigInt64(0, BigInt(value), true);
  return bytes;
}
