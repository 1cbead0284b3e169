// Rows of an offline table to its Amazon Data Firehose delivery stream with PutRecordBatch: one
// JSON object per record, newline-terminated (the Iceberg destination reads each record as one
// row). Firehose's Iceberg destination takes timestamps as epoch microseconds, so a row's
// ISO 8601 `timestamptz` columns travel as integers (`toFirehoseRecord`); the local endpoint turns
// them back (`fromFirehoseRecord`).
//
// PutRecordBatch succeeds as a call even when some of its records are refused (FailedPutCount > 0,
// an ErrorCode on each refused entry), so only those entries are sent again, with exponential
// backoff and full jitter, a bounded number of times. Whatever is still refused after that is
// reported as one retryable ResourceError naming the stream and the count: the caller (a Lambda)
// fails its batch and the event source delivers it again. A row is never dropped silently.
import { FirehoseClient, PutRecordBatchCommand, type PutRecordBatchCommandOutput, type _Record } from '@aws-sdk/client-firehose';
import { ResourceError, ValidationError } from '../core/errors';
import { parseRow, type IcebergTableDefinition } from '../core/iceberg/table-definition';
import { formatTimestampMicros, parseTimestampMicros } from '../core/iceberg/timestamps';

/** PutRecordBatch quotas: records per call, bytes per record, bytes per call (before base64). */
export const FIREHOSE_LIMITS = {
  recordsPerBatch: 500,
  bytesPerRecord: 1_000 * 1024,
  bytesPerBatch: 4 * 1024 * 1024,
} as const;

/**
 * A FirehoseClient for handlers, its endpoint from AWS_ENDPOINT_URL_FIREHOSE when set (the local
 * platform), the real service otherwise. The SDK's standard retries cover a call that fails as a
 * whole; the sink resends the entries of a partial failure itself.
 */
export const firehoseClient = (): FirehoseClient => new FirehoseClient({ maxAttempts: 3 });

/** What the sink needs of a FirehoseClient; a FirehoseClient satisfies it, and so can a test double. */
export interface PutRecordBatchClient {
  send(command: PutRecordBatchCommand): Promise<PutRecordBatchCommandOutput>;
}

export interface FirehoseSinkOptions<Row> {
  readonly client: PutRecordBatchClient;
  readonly deliveryStreamName: string;
  /** The table the stream delivers to: rows are checked against it and encoded for it. */
  readonly table: IcebergTableDefinition<Row>;
  /** Calls per chunk, the first included, before the chunk's remaining rows are reported. Default 6. */
  readonly maxAttempts?: number;
  /** Backoff before resend n is uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. Default 100. */
  readonly baseDelayMs?: number;
  /** Default 5000. */
  readonly maxDelayMs?: number;
  /** Test seam: how a backoff waits. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Test seam: the jitter source, uniform in [0, 1). */
  readonly random?: () => number;
}

export interface SendSummary {
  /** Rows accepted by Firehose (all of them: anything less throws). */
  readonly rows: number;
  /** PutRecordBatch calls made, resends included. */
  readonly calls: number;
  /** Entries sent again after a partial failure or a failed call. */
  readonly resent: number;
}

/**
 * Rows Firehose still refused after every attempt. Retryable: nothing about the rows is wrong,
 * the stream was throttled or unavailable; the caller fails its batch so it comes back.
 */
export class FirehoseDeliveryError extends ResourceError {
  constructor(
    readonly deliveryStreamName: string,
    readonly failedRows: number,
    readonly totalRows: number,
    /** ErrorCode → entries that ended with it, from the last attempt. */
    readonly errorCodes: Readonly<Record<string, number>>,
    readonly attempts: number,
  ) {
    const codes = Object.entries(errorCodes)
      .map(([code, n]) => `${code} ×${n}`)
      .join(', ');
    super(`firehose stream ${deliveryStreamName}: ${failedRows} of ${totalRows} rows not accepted after ${attempts} attempts (${codes})`, deliveryStreamName, true);
  }
}

// Call failures worth another attempt: throttling, the service's own faults, the network.
const RETRYABLE_CALL_ERRORS = new Set(['ServiceUnavailableException', 'ThrottlingException', 'LimitExceededException', 'TimeoutError', 'RequestTimeout']);

function isRetryableCallError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  if (e.$retryable) return true;
  if (e.name && RETRYABLE_CALL_ERRORS.has(e.name)) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  // Sockets reset or refused: the SDK's own retries are spent, the stream itself may be fine.
  return typeof e.code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)$/.test(e.code);
}

const encoder = new TextEncoder();

/**
 * A row as the Iceberg destination reads it: the row's own JSON, with each `timestamptz` column
 * (an ISO 8601 UTC string in the row) as epoch microseconds. Expects a row the table accepted.
 */
export function toFirehoseRecord<Row>(table: IcebergTableDefinition<Row>, row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(row as Readonly<Record<string, unknown>>) };
  for (const column of table.columns) {
    if (column.type !== 'timestamptz') continue;
    const value = out[column.name];
    if (typeof value !== 'string') continue;
    const micros = parseTimestampMicros(value);
    if (micros === undefined) throw new ValidationError(`${table.name} ${column.name}: must be an ISO 8601 UTC timestamp`, column.name);
    out[column.name] = Number(micros);
  }
  return out;
}

/**
 * The row a Firehose record carries, for the table's schema to check: each `timestamptz` column
 * back from epoch microseconds to ISO 8601. A timestamp sent any other way is refused, as the
 * Iceberg destination refuses it. `where` prefixes the field named in an error.
 */
export function fromFirehoseRecord(table: IcebergTableDefinition<unknown>, record: Readonly<Record<string, unknown>>, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...record };
  for (const column of table.columns) {
    if (column.type !== 'timestamptz') continue;
    const value = out[column.name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw new ValidationError(`${table.name} ${where}.${column.name}: a timestamp must arrive as epoch microseconds (an integer), as Firehose's Iceberg destination requires`, `${where}.${column.name}`);
    }
    out[column.name] = formatTimestampMicros(BigInt(value));
  }
  return out;
}

/** A row as one Firehose record: checked against the table, encoded, JSON and a newline. */
export function encodeRow<Row>(table: IcebergTableDefinition<Row>, row: unknown, index: number, deliveryStreamName: string): Uint8Array {
  const where = `rows[${index}]`;
  const parsed = parseRow(table, row, where);
  if (!parsed.ok) throw new ValidationError(`firehose stream ${deliveryStreamName}: ${parsed.error.message}`, parsed.error.field);
  const bytes = encoder.encode(`${JSON.stringify(toFirehoseRecord(table, parsed.row))}\n`);
  if (bytes.byteLength > FIREHOSE_LIMITS.bytesPerRecord) {
    throw new ValidationError(
      `${where} for firehose stream ${deliveryStreamName} is ${bytes.byteLength} bytes as a record; Firehose accepts at most ${FIREHOSE_LIMITS.bytesPerRecord}`,
      where,
    );
  }
  return bytes;
}

/** Consecutive chunks within PutRecordBatch's record and byte quotas. */
export function chunkRecords(records: readonly Uint8Array[]): Uint8Array[][] {
  const chunks: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let bytes = 0;
  for (const record of records) {
    if (current.length === FIREHOSE_LIMITS.recordsPerBatch || (current.length > 0 && bytes + record.byteLength > FIREHOSE_LIMITS.bytesPerBatch)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += record.byteLength;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export class FirehoseSink<Row> {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: FirehoseSinkOptions<Row>) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  get deliveryStreamName(): string {
    return this.options.deliveryStreamName;
  }

  /**
   * Sends every row, or throws. Every row is checked and encoded before anything is sent, so a row
   * the table refuses, or one over 1,000 KiB as a record, refuses the whole call with a
   * ValidationError naming it (`rows[i].<field>`, `rows[i]`) and nothing reaches the stream.
   * Chunks go one after another.
   * @throws ValidationError for a row that cannot be sent; FirehoseDeliveryError when rows are
   *   still refused after maxAttempts; ResourceError (not retryable) when the call itself is
   *   refused for good (an unknown stream, an invalid argument).
   */
  async send(rows: readonly Row[]): Promise<SendSummary> {
    const stream = this.options.deliveryStreamName;
    const records = rows.map((row, i) => encodeRow(this.options.table, row, i, stream));
    let calls = 0;
    let resent = 0;
    for (const chunk of chunkRecords(records)) {
      const result = await this.sendChunk(chunk, rows.length);
      calls += result.calls;
      resent += result.resent;
    }
    return { rows: rows.length, calls, resent };
  }

  private async sendChunk(chunk: readonly Uint8Array[], totalRows: number): Promise<{ calls: number; resent: number }> {
    const stream = this.options.deliveryStreamName;
    let pending: readonly Uint8Array[] = chunk;
    let errorCodes: Record<string, number> = {};
    let calls = 0;
    let resent = 0;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        resent += pending.length;
        await this.sleep(this.backoffMs(attempt - 1));
      }
      calls++;
      let output: PutRecordBatchCommandOutput;
      try {
        const entries: _Record[] = pending.map((Data) => ({ Data }));
        output = await this.options.client.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: entries }));
      } catch (error) {
        if (!isRetryableCallError(error)) {
          throw new ResourceError(`firehose stream ${stream}: PutRecordBatch refused: ${describe(error)}`, stream, false);
        }
        errorCodes = { [(error as Error).name || 'Error']: pending.length };
        continue;
      }
      if (!output.FailedPutCount) return { calls, resent };
      const responses = output.RequestResponses ?? [];
      const failed: Uint8Array[] = [];
      errorCodes = {};
      pending.forEach((record, i) => {
        const code = responses[i]?.ErrorCode;
        // An entry without a RecordId and without a code is not known to be stored: resend it.
        if (code || !responses[i]?.RecordId) {
          failed.push(record);
          const key = code ?? 'MissingRecordId';
          errorCodes[key] = (errorCodes[key] ?? 0) + 1;
        }
      });
      if (failed.length === 0) return { calls, resent };
      pending = failed;
    }
    throw new FirehoseDeliveryError(stream, pending.length, totalRows, errorCodes, this.maxAttempts);
  }

  /** Full jitter: uniform in [0, min(max, base * 2^(n-1))] before resend n. */
  private backoffMs(resend: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (resend - 1));
    return Math.floor(this.random() * ceiling);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
