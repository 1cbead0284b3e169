// One Parquet data file of an Iceberg table: every column carries its Iceberg field id (the spec
// requires it; readers resolve columns by id), timestamptz is INT64 TIMESTAMP(MICROS, UTC), a list
// is the 3-level LIST, and the footer holds `iceberg.schema` as the reference implementation writes.
import { parquetWriteBuffer, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import type { IcebergTableDefinition, PhysicalRow, TableColumn } from '../../core/iceberg';

function schemaElements(column: TableColumn): SchemaElement[] {
  const repetition_type = column.optional === true ? 'OPTIONAL' : 'REQUIRED';
  const base = { name: column.name, repetition_type, field_id: column.fieldId } as const;
  switch (column.type) {
    case 'string':
      return [{ ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } }];
    case 'int':
      return [{ ...base, type: 'INT32' }];
    case 'double':
      return [{ ...base, type: 'DOUBLE' }];
    case 'boolean':
      return [{ ...base, type: 'BOOLEAN' }];
    case 'timestamptz':
      return [{ ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } }];
    case 'list<double>':
      return [
        { ...base, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'DOUBLE', repetition_type: 'OPTIONAL', field_id: column.elementId },
      ];
  }
}

/** The Parquet schema of a table's data files. */
export function parquetSchema(table: IcebergTableDefinition<unknown>): SchemaElement[] {
  return [{ name: 'table', num_children: table.columns.length }, ...table.columns.flatMap(schemaElements)];
}

/** Encodes rows (already validated and in physical form) as one Parquet file with one row group. */
export function encodeParquetDataFile(table: IcebergTableDefinition<unknown>, rows: readonly PhysicalRow[]): Uint8Array {
  const columnData: ColumnSource[] = table.columns.map((column) => {
    const required = column.optional !== true;
    if (required && (column.type === 'double' || column.type === 'int')) {
      const data = column.type === 'double' ? new Float64Array(rows.length) : new Int32Array(rows.length);
      for (let i = 0; i < rows.length; i++) data[i] = rows[i]![column.name] as number;
      return { name: column.name, data };
    }
    return { name: column.name, data: rows.map((row) => row[column.name] ?? null) };
  });
  const buffer = parquetWriteBuffer({
    schema: parquetSchema(table),
    columnData,
    rowGroupSize: Math.max(1, rows.length),
    kvMetadata: [{ key: 'iceberg.schema', value: JSON.stringify(table.schema) }],
    createdBy: 'fathom iceberg writer',
  });
  return new Uint8Array(buffer);
}
