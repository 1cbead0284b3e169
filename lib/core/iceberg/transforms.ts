// Partition transforms: the value a data file is filed under. Only `day` is implemented, the one
// transform the platform's tables use; committing with any other would break the spec's rule that
// writers never commit files under a transform they do not know.
import { ResourceError } from '../errors';
import { MICROS_PER_DAY, floorDiv } from './timestamps';
import type { IcebergSchema, PartitionSpec, PartitionTuple } from './types';

/** Days since 1970-01-01 of a microsecond timestamp (floor, so 1969-12-31T23:59Z is day -1). */
export function dayFromMicros(micros: bigint): number {
  return Number(floorDiv(micros, MICROS_PER_DAY));
}

/** `2024-05-01` for day 19844: how the reference implementation spells a day in a path. */
export function isoDateOfDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** A row as written to Parquet: timestamps are microseconds, lists are arrays. */
export type PhysicalValue = string | number | boolean | bigint | null | readonly (number | null)[];
export type PhysicalRow = Readonly<Record<string, PhysicalValue>>;

/** Resolves each partition field of a spec to the source column's name, once per table. */
export function partitionSources(schema: IcebergSchema, spec: PartitionSpec, table: string): readonly { readonly name: string; readonly source: string }[] {
  return spec.fields.map((field) => {
    if (field.transform !== 'day') {
      throw new ResourceError(`${table}: partition field ${field.name} uses transform "${field.transform}", which this writer does not implement`, table, false);
    }
    const source = schema.fields.find((f) => f.id === field['source-id']);
    if (!source || source.type !== 'timestamptz') {
      throw new ResourceError(`${table}: partition field ${field.name} needs a timestamptz source column (id ${field['source-id']})`, table, false);
    }
    return { name: field.name, source: source.name };
  });
}

/** The partition tuple of one physical row. */
export function partitionOf(sources: readonly { readonly name: string; readonly source: string }[], row: PhysicalRow): PartitionTuple {
  const tuple: Record<string, number | null> = {};
  for (const { name, source } of sources) {
    const value = row[source];
    tuple[name] = typeof value === 'bigint' ? dayFromMicros(value) : null;
  }
  return tuple;
}

/** `event_time_day=2024-05-01`, the folder a partition's data files go in (Hive style, as Java writes). */
export function partitionPath(tuple: PartitionTuple): string {
  return Object.entries(tuple)
    .map(([name, day]) => `${name}=${day === null ? 'null' : isoDateOfDay(day)}`)
    .join('/');
}

/** A stable key for grouping rows and files by partition. */
export function partitionKey(tuple: PartitionTuple): string {
  return JSON.stringify(Object.entries(tuple));
}
