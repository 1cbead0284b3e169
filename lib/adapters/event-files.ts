// Event and label files, JSONL and Parquet: writers for the generator's output and a streaming
// reader for replay. Rows are written in batches and read back one row group (Parquet) or line
// (JSONL) at a time, so a file of millions of events never has to fit in memory.

import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { ParquetWriter, fileWriter, type SchemaElement } from 'hyparquet-writer';
import { ValidationError } from '../core/errors';
import type { LabelRecord } from '../core/generator';
import type { Event } from '../core/schemas/event';

export type RecordFileFormat = 'jsonl' | 'parquet';

export interface RecordWriter<T> {
  readonly path: string;
  /** Appends rows. Await it before the next call: it is how the file pushes back. */
  write(rows: readonly T[]): Promise<void>;
  /** Flushes and closes; the file is complete and readable once this resolves. */
  close(): Promise<void>;
}

/** The format a path's extension names: .jsonl or .ndjson, or .parquet. */
export function formatOfPath(path: string): RecordFileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  throw new ValidationError(`${path}: unknown file type "${ext}" (expected .jsonl, .ndjson or .parquet)`, 'path');
}

// ---------------------------------------------------------------------------------------------
// JSONL

class JsonlWriter<T> implements RecordWriter<T> {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path);
    // Without a listener an open or write error would crash the process between our calls.
    this.stream.on('error', (error) => {
      this.failure ??= error;
    });
  }

  async write(rows: readonly T[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (rows.length === 0) return;
    // One string per batch: a write call per row costs more than the JSON itself.
    let text = '';
    for (const row of rows) text += `${JSON.stringify(row)}\n`;
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await finished(this.stream);
    if (this.failure) throw this.failure;
  }
}

// ---------------------------------------------------------------------------------------------
// Parquet

/** One column of a record file: its name, Parquet type and how to read it from a row. */
export type Column<T> =
  | { readonly name: string; readonly type: 'STRING'; readonly get: (row: T) => string }
  | { readonly name: string; readonly type: 'DOUBLE' | 'INT32'; readonly get: (row: T) => number };

/**
 * Times are kept as the ISO strings of the Event contract rather than Parquet TIMESTAMPs: a file
 * read back yields exactly the rows that were written and validates against the same schema.
 */
const EVENT_COLUMNS: readonly Column<Event>[] = [
  { name: 'event_id', type: 'STRING', get: (e) => e.event_id },
  { name: 'entity_id', type: 'STRING', get: (e) => e.entity_id },
  { name: 'merchant_id', type: 'STRING', get: (e) => e.merchant_id },
  { name: 'amount', type: 'DOUBLE', get: (e) => e.amount },
  { name: 'currency', type: 'STRING', get: (e) => e.currency },
  { name: 'mcc', type: 'INT32', get: (e) => e.mcc },
  { name: 'country', type: 'STRING', get: (e) => e.country },
  { name: 'channel', type: 'STRING', get: (e) => e.channel },
  { name: 'event_time', type: 'STRING', get: (e) => e.event_time },
];

const LABEL_COLUMNS: readonly Column<LabelRecord>[] = [
  { name: 'event_id', type: 'STRING', get: (l) => l.event_id },
  { name: 'label', type: 'INT32', get: (l) => l.label },
  { name: 'labeled_at', type: 'STRING', get: (l) => l.labeled_at },
];

/** Rows per row group: about 10 MB of event columns, a good unit for a reader to skip or fetch. */
export const PARQUET_ROW_GROUP_SIZE = 100_000;

function parquetSchema<T>(columns: readonly Column<T>[]): SchemaElement[] {
  return [
    { name: 'root', num_children: columns.length },
    ...columns.map((c): SchemaElement =>
      c.type === 'STRING'
        ? { name: c.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }
        : { name: c.name, type: c.type, repetition_type: 'REQUIRED' },
    ),
  ];
}

/**
 * Buffers one row group, then encodes it column by column and appends it to the file. Memory is
 * bounded by the row group, not the file. hyparquet-writer writes synchronously, so a row group
 * blocks the event loop while it is encoded (a few hundred milliseconds at 100 000 rows).
 */
class ParquetRecordWriter<T> implements RecordWriter<T> {
  private readonly writer: ParquetWriter;
  private pending: T[] = [];

  constructor(
    readonly path: string,
    private readonly columns: readonly Column<T>[],
    private readonly rowGroupSize: number,
  ) {
    this.writer = new ParquetWriter({ writer: fileWriter(path), schema: parquetSchema(columns), createdBy: 'fathom' });
  }

  async write(rows: readonly T[]): Promise<void> {
    for (const row of rows) {
      this.pending.push(row);
      if (this.pending.length === this.rowGroupSize) await this.flushGroup();
    }
  }

  async close(): Promise<void> {
    if (this.pending.length > 0) await this.flushGroup();
    await this.writer.finish();
  }

  private async flushGroup(): Promise<void> {
    const rows = this.pending;
    this.pending = [];
    const columnData = this.columns.map((c) => {
      if (c.type === 'STRING') return { name: c.name, data: rows.map((row) => c.get(row)) };
      const data = c.type === 'DOUBLE' ? new Float64Array(rows.length) : new Int32Array(rows.length);
      for (let i = 0; i < rows.length; i++) data[i] = c.get(rows[i]!);
      return { name: c.name, data };
    });
    await this.writer.write({ columnData, rowGroupSize: rows.length });
  }
}

// ---------------------------------------------------------------------------------------------
// Factories

export interface WriterOptions {
  /** Defaults to the path's extension. */
  readonly format?: RecordFileFormat;
  /** Parquet only: rows per row group (default PARQUET_ROW_GROUP_SIZE). */
  readonly rowGroupSize?: number;
}

/** A JSONL or Parquet writer for rows of any shape, given its columns (Parquet) — JSONL writes rows as they are. */
export function createRecordWriter<T>(path: string, options: WriterOptions, columns: readonly Column<T>[]): RecordWriter<T> {
  const format = options.format ?? formatOfPath(path);
  if (format === 'jsonl') return new JsonlWriter<T>(path);
  const rowGroupSize = options.rowGroupSize ?? PARQUET_ROW_GROUP_SIZE;
  if (!Number.isSafeInteger(rowGroupSize) || rowGroupSize < 1) throw new RangeError(`rowGroupSize must be a positive integer (got ${rowGroupSize})`);
  return new ParquetRecordWriter(path, columns, rowGroupSize);
}

export function createEventWriter(path: string, options: WriterOptions = {}): RecordWriter<Event> {
  return createRecordWriter(path, options, EVENT_COLUMNS);
}

/** Labels as the platform receives them: event_id, label (0 or 1), labeled_at. */
export function createLabelWriter(path: string, options: WriterOptions = {}): RecordWriter<LabelRecord> {
  return createRecordWriter(path, options, LABEL_COLUMNS);
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ReadRecordsOptions {
  /**
   * Called for a JSONL line that is not JSON; the line is skipped. Without it such a line is a
   * ValidationError, so that nothing is dropped silently.
   */
  readonly onMalformedLine?: (line: number, error: ValidationError) => void;
}

/**
 * The rows of a JSONL or Parquet file (by extension), one at a time, as raw objects: the caller
 * validates them. Parquet values are made JSON-like (Date → ISO string, safe bigint → number),
 * so a file written by another tool reads like one of ours.
 */
export function readRecords(path: string, options: ReadRecordsOptions = {}): AsyncIterable<unknown> {
  return formatOfPath(path) === 'jsonl' ? readJsonl(path, options) : readParquet(path);
}

/** Events for replay: see readRecords. */
export function readEvents(path: string, options: ReadRecordsOptions = {}): AsyncIterable<unknown> {
  return readRecords(path, options);
}

async function* readJsonl(path: string, options: ReadRecordsOptions): AsyncGenerator<unknown> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const invalid = new ValidationError(`${path} line ${lineNo}: not valid JSON (${reason})`, `line ${lineNo}`);
      if (!options.onMalformedLine) throw invalid;
      options.onMalformedLine(lineNo, invalid);
      continue;
    }
    yield value;
  }
}

async function* readParquet(path: string): AsyncGenerator<unknown> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd });
    for (const row of rows) yield jsonLike(row);
    rowStart = rowEnd;
  }
}

function jsonLike(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof Date) out[key] = value.toISOString();
    else if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) out[key] = Number(value);
    else out[key] = value;
  }
  return out;
}
