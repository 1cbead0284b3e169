// Training-row files (JSONL or Parquet) to and from the trainer's TrainingMatrix. Rows are
// validated one by one; the first bad one stops the read with an error naming its row and field,
// because a model trained on silently dropped rows could not name the data it was trained on.
import { ValidationError } from '../core/errors';
import { featureColumnsOf, parseTrainingRow } from '../core/schemas/training-row';
import type { TrainingMatrix } from '../core/training/matrix';
import { createRecordWriter, readRecords, type Column, type RecordWriter, type WriterOptions } from './event-files';

export interface TrainingRowOut {
  readonly event_id: string;
  readonly event_time: string;
  readonly label: 0 | 1;
  readonly values: ArrayLike<number>;
}

type FlatRow = Record<string, string | number | null>;

/** A writer of flat rows: event_id, event_time, label, then `features` as numeric columns (null for NaN). */
export function createTrainingRowWriter(path: string, features: readonly string[], options: WriterOptions = {}): RecordWriter<TrainingRowOut> {
  const columns: Column<FlatRow>[] = [
    { name: 'event_id', type: 'STRING', get: (r) => r.event_id as string },
    { name: 'event_time', type: 'STRING', get: (r) => r.event_time as string },
    { name: 'label', type: 'INT32', get: (r) => r.label as number },
    // Parquet DOUBLE carries NaN itself, so a missing value survives a round trip.
    ...features.map((name): Column<FlatRow> => ({ name, type: 'DOUBLE', get: (r) => (r[name] === null ? Number.NaN : (r[name] as number)) })),
  ];
  const inner = createRecordWriter(path, options, columns);
  return {
    path,
    write: (rows) => inner.write(rows.map((row) => flatten(row, features))),
    close: () => inner.close(),
  };
}

function flatten(row: TrainingRowOut, features: readonly string[]): FlatRow {
  if (row.values.length !== features.length) throw new ValidationError(`row ${row.event_id}: ${row.values.length} values for ${features.length} features`, 'values');
  const flat: FlatRow = { event_id: row.event_id, event_time: row.event_time, label: row.label };
  for (let j = 0; j < features.length; j++) {
    const v = row.values[j]!;
    flat[features[j]!] = Number.isNaN(v) ? null : v;
  }
  return flat;
}

export interface ReadTrainingRowsOptions {
  /** Expected feature columns, in order; absent = the first row's columns. A mismatch is an error. */
  readonly features?: readonly string[];
  /** Called every `progressEvery` rows (default 100,000). */
  readonly onProgress?: (rows: number) => void;
  readonly progressEvery?: number;
}

/** Reads a whole training-row file into a matrix (rows in file order). */
export async function readTrainingRows(path: string, options: ReadTrainingRowsOptions = {}): Promise<TrainingMatrix> {
  let features = options.features;
  let width = features?.length ?? 0;
  let capacity = 1 << 14;
  let x = new Float32Array(0);
  let label = new Uint8Array(capacity);
  let eventTime = new Float64Array(capacity);
  const eventIds: string[] = [];
  const every = options.progressEvery ?? 100_000;
  let rows = 0;
  for await (const raw of readRecords(path)) {
    const where = `${path} row ${rows + 1}`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError(`${where}: must be an object`, where);
    if (!features) features = featureColumnsOf(raw as Record<string, unknown>);
    if (rows === 0) {
      width = features.length;
      if (width === 0) throw new ValidationError(`${where}: no feature columns besides event_id, event_time and label`, where);
      const extra = featureColumnsOf(raw as Record<string, unknown>).filter((k) => !features!.includes(k));
      if (extra.length > 0) throw new ValidationError(`${where}.${extra[0]}: not one of the model's features`, `${where}.${extra[0]}`);
      x = new Float32Array(capacity * width);
    }
    if (rows === capacity) {
      capacity *= 2;
      x = grow(x, capacity * width);
      label = grow(label, capacity);
      eventTime = grow(eventTime, capacity);
    }
    const parsed = parseTrainingRow(raw, features, x, rows * width, where);
    label[rows] = parsed.label;
    eventTime[rows] = parsed.ts;
    eventIds.push(parsed.eventId);
    rows++;
    if (options.onProgress && rows % every === 0) options.onProgress(rows);
  }
  if (!features || rows === 0) throw new ValidationError(`${path}: no rows`, 'data');
  return { features, rows, x: x.slice(0, rows * width), label: label.slice(0, rows), eventTime: eventTime.slice(0, rows), eventIds };
}

function grow<T extends Float32Array | Float64Array | Uint8Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
