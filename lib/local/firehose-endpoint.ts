// A local Amazon Data Firehose endpoint speaking the AWS JSON 1.1 protocol that
// @aws-sdk/client-firehose uses (POST /, X-Amz-Target: Firehose_20150804.<Operation>, blobs as
// base64, timestamps as epoch seconds, errors as {__type, message} so the SDK raises its typed
// exceptions such as ResourceNotFoundException). It plays the Apache Iceberg destination: each
// delivery stream feeds one table.
//
// Hand-written like the SQS and KMS endpoints: npm has no pure-JavaScript Firehose stand-in. It
// covers what the platform uses: PutRecord, PutRecordBatch, DescribeDeliveryStream and
// ListDeliveryStreams, for DirectPut streams whose records are JSON rows.
//
// What it keeps of Firehose's behaviour:
// - Records are buffered per stream by size and interval (its buffering hints) and delivered in
//   one append, so one Iceberg commit carries many requests' rows; `flush()` delivers now.
// - A record that is not a JSON row of the stream's table (timestamps in epoch microseconds, as the
//   Iceberg destination wants them) is accepted by PutRecord (Firehose never looks inside a record
//   on the way in) and then goes to the error output, as Firehose's S3 error
//   output prefix would take it: `<errorDir>/<stream>/<yyyy-mm-dd>/…jsonl`, one line per record
//   with the reason and the raw data. It never holds back the valid rows delivered with it.
// - A failing delivery is retried for `retryDurationMs` (Firehose's RetryOptions), then its rows go
//   to the error output too. Nothing accepted is ever dropped.
// - While a stream holds more than `maxPendingBytes` (its deliveries keep failing or lag), new
//   entries are refused one by one with ServiceUnavailableException, as a throttled Firehose
//   refuses them: a PutRecordBatch then partly fails, and the producer resends those entries.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readJsonBody, replyJson, type BodyErrors, type Json } from './aws-json-protocol';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fromFirehoseRecord } from '../adapters/firehose-sink';
import { appendRows, compact, openTable, type CompactResult, type IcebergTable, type WarehouseOptions } from '../adapters/iceberg';
import { ConfigError, ValidationError } from '../core/errors';
import { parseRow, type IcebergTableDefinition } from '../core/iceberg/table-definition';
import { LOCAL_FIREHOSE_BUFFERING } from '../core/resources';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws-clients';

/**
 * Where a stream's rows go: the project's Iceberg writer, appending rows to a table in one atomic
 * commit. A rejection means nothing was committed; a ValidationError whose field is `rows[i]…`
 * names the row the table refused.
 */
export interface TableSink {
  append(table: IcebergTableDefinition<unknown>, rows: readonly unknown[]): Promise<void>;
  /** Waits for the sink's own background work (maintenance), once the last append is done. */
  close?(): Promise<void>;
}

export interface FirehoseBuffering {
  /** Deliver once a stream holds this many bytes of records. */
  readonly sizeBytes: number;
  /** Deliver this long after the first record of a buffer arrived. */
  readonly intervalMs: number;
}

export interface FirehoseEndpointOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Delivery stream name → the table its records are rows of. */
  readonly streams: Readonly<Record<string, IcebergTableDefinition<unknown>>>;
  readonly sink: TableSink;
  /** Error output root: records that could not be delivered land under `<errorDir>/<stream>/<date>/`. */
  readonly errorDir: string;
  /** @default LOCAL_FIREHOSE_BUFFERING (2 s, 1 MiB) */
  readonly buffering?: Partial<FirehoseBuffering>;
  /** Bytes a stream may hold undelivered before new entries are refused. @default 64 MiB */
  readonly maxPendingBytes?: number;
  /** How long a failing delivery is retried before its rows go to the error output. @default 300 000 (Firehose's default) */
  readonly retryDurationMs?: number;
  /** First wait after a failed delivery; it doubles up to 30 s. @default 500 */
  readonly retryDelayMs?: number;
  /** Named in DescribeDeliveryStream's destination. @default 'fathom_offline' */
  readonly databaseName?: string;
  /** Told about each failed delivery (it will be retried or, past the retry duration, written to the error output). */
  readonly onDeliveryError?: (stream: string, error: unknown) => void;
}

export interface FirehoseEndpoint {
  readonly url: string;
  readonly port: number;
  /**
   * Delivers everything buffered now (and waits for deliveries under way). Rejects with the first
   * delivery error; the rows it concerned stay buffered and are retried.
   */
  flush(): Promise<void>;
  /** Rows delivered and records sent to the error output so far, per stream. */
  stats(): Readonly<Record<string, { readonly delivered: number; readonly errors: number; readonly buffered: number }>>;
  /** Stops accepting requests, delivers what it can, and writes what it cannot to the error output. */
  close(): Promise<void>;
}

/** An error in the Firehose wire shape: `type` is the modelled exception name the SDK maps to a class. */
export class FirehoseError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'FirehoseError';
  }
}

const BODY_ERRORS: BodyErrors = { tooLarge: () => new FirehoseError('InvalidArgumentException', 'The request is too large.', 413), malformed: (m) => new FirehoseError('SerializationException', m) };
type Operation = (input: Json) => Promise<Json> | Json;

const TARGET_PREFIX = 'Firehose_20150804.';
/** PutRecordBatch quotas: records per call, bytes per record and per call (before base64). */
const MAX_BATCH_RECORDS = 500;
const MAX_RECORD_BYTES = 1_000 * 1024;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** A 4 MiB batch is about 5.6 MB once base64-encoded, plus JSON framing. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const MAX_RETRY_DELAY_MS = 30_000;
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;

/** One accepted record waiting for delivery. */
interface Pending {
  readonly recordId: string;
  readonly arrival: number;
  readonly data: Uint8Array;
  readonly row: unknown;
  /** When its first delivery attempt failed: the retry duration counts from there. */
  failingSince?: number;
  attempts: number;
}

interface ErrorRecord {
  readonly recordId: string;
  readonly arrival: number;
  readonly data: Uint8Array;
  readonly attempts: number;
  readonly errorCode: 'InvalidJson' | 'SchemaMismatch' | 'DeliveryFailed';
  readonly errorMessage: string;
  readonly field?: string;
}

const validation = (message: string) => new FirehoseError('InvalidArgumentException', message);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

class StreamState {
  buffer: Pending[] = [];
  bufferedBytes = 0;
  inFlightBytes = 0;
  delivered = 0;
  errors = 0;
  timer: NodeJS.Timeout | undefined;
  /** The delivery under way, if any: deliveries of one stream never overlap. */
  delivering: Promise<void> | undefined;
  consecutiveFailures = 0;
  readonly createdAt = Math.floor(Date.now() / 1000);

  constructor(
    readonly name: string,
    readonly table: IcebergTableDefinition<unknown>,
  ) {}

  get pendingBytes(): number {
    return this.bufferedBytes + this.inFlightBytes;
  }
}

export async function startFirehoseEndpoint(options: FirehoseEndpointOptions): Promise<FirehoseEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const buffering: FirehoseBuffering = { ...LOCAL_FIREHOSE_BUFFERING, ...options.buffering };
  const maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
  const retryDurationMs = options.retryDurationMs ?? 300_000;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const databaseName = options.databaseName ?? 'fathom_offline';
  const onDeliveryError = options.onDeliveryError ?? ((stream, error) => process.stderr.write(`firehose ${stream}: delivery failed: ${String(error)}\n`));

  const streams = new Map<string, StreamState>();
  for (const [name, table] of Object.entries(options.streams)) {
    if (!STREAM_NAME.test(name)) throw new ValidationError(`${name} is not a valid delivery stream name`, `streams.${name}`);
    streams.set(name, new StreamState(name, table));
  }
  let closing = false;

  const arnOf = (name: string) => `arn:aws:firehose:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:deliverystream/${name}`;

  const streamOf = (input: Json): StreamState => {
    const name = input.DeliveryStreamName;
    if (typeof name !== 'string' || name === '') {
      throw validation("1 validation error detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null");
    }
    const stream = streams.get(name);
    if (!stream) throw new FirehoseError('ResourceNotFoundException', `Firehose ${name} under account ${LOCAL_ACCOUNT_ID} not found.`);
    return stream;
  };

  const dataOf = (record: unknown, where: string): Uint8Array => {
    const data = typeof record === 'object' && record !== null ? (record as Json).Data : undefined;
    if (typeof data !== 'string') throw validation(`1 validation error detected: Value null at '${where}.data' failed to satisfy constraint: Member must not be null`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new FirehoseError('SerializationException', `${where}.Data is not valid base64`);
    const bytes = Buffer.from(data, 'base64');
    if (bytes.byteLength > MAX_RECORD_BYTES) {
      throw validation(`1 validation error detected: Value at '${where}.data' failed to satisfy constraint: Member must have length less than or equal to ${MAX_RECORD_BYTES}`);
    }
    return bytes;
  };

  /**
   * Accepts one record into the stream: parsed and checked against the table now, so the error
   * output gets a reason; buffered if it is a row. Returns the RecordId, or undefined when the
   * stream is over its pending limit (the entry is refused).
   */
  const accept = (stream: StreamState, data: Uint8Array, now: number, invalid: ErrorRecord[]): string | undefined => {
    // Closing: the last delivery may already have run, nothing more may be buffered.
    if (closing || stream.pendingBytes + data.byteLength > maxPendingBytes) return undefined;
    const recordId = randomBytes(42).toString('base64url');
    const parsed = parseRecord(stream.table, data);
    if (!parsed.ok) {
      invalid.push({ recordId, arrival: now, data, attempts: 0, ...parsed.error });
      return recordId;
    }
    stream.buffer.push({ recordId, arrival: now, data, row: parsed.row, attempts: 0 });
    stream.bufferedBytes += data.byteLength;
    return recordId;
  };

  /** After records were accepted: deliver now if the buffer is full, else make sure the interval runs. */
  const afterAccept = (stream: StreamState) => {
    if (stream.buffer.length === 0) return;
    if (stream.bufferedBytes >= buffering.sizeBytes) {
      void deliverInBackground(stream);
      return;
    }
    if (!stream.timer && !stream.delivering) scheduleDelivery(stream, buffering.intervalMs);
  };

  const scheduleDelivery = (stream: StreamState, delayMs: number) => {
    if (closing) return;
    clearTimeout(stream.timer);
    stream.timer = setTimeout(() => {
      stream.timer = undefined;
      void deliverInBackground(stream);
    }, delayMs);
    stream.timer.unref();
  };

  const deliverInBackground = async (stream: StreamState) => {
    try {
      await deliver(stream);
    } catch {
      // Reported through onDeliveryError and retried on the schedule deliver() set.
    }
  };

  /**
   * Delivers the stream's buffer (one append at a time per stream) until it is empty or a delivery
   * fails; a failure is rethrown after the retry is scheduled.
   */
  const deliver = async (stream: StreamState): Promise<void> => {
    while (stream.delivering) await stream.delivering.catch(() => undefined);
    if (stream.buffer.length === 0) return;
    clearTimeout(stream.timer);
    stream.timer = undefined;
    const run = deliverBuffer(stream);
    stream.delivering = run;
    try {
      await run;
    } finally {
      if (stream.delivering === run) stream.delivering = undefined;
    }
    // More may have arrived while the append ran.
    if (stream.buffer.length > 0 && !closing) {
      if (stream.bufferedBytes >= buffering.sizeBytes) await deliver(stream);
      else if (!stream.timer) scheduleDelivery(stream, buffering.intervalMs);
    }
  };

  const deliverBuffer = async (stream: StreamState): Promise<void> => {
    const batch = stream.buffer;
    stream.buffer = [];
    const bytes = batch.reduce((n, p) => n + p.data.byteLength, 0);
    stream.bufferedBytes -= bytes;
    stream.inFlightBytes += bytes;
    try {
      // A row the table refuses (named by the writer as rows[i]) goes to the error output and
      // the rest are appended again at once: one bad row never holds back the others.
      for (;;) {
        try {
          for (const p of batch) p.attempts++;
          await options.sink.append(stream.table, batch.map((p) => p.row));
          stream.delivered += batch.length;
          stream.consecutiveFailures = 0;
          return;
        } catch (error) {
          const refused = refusedRow(error, batch.length);
          const bad = refused === undefined ? undefined : batch[refused];
          if (refused === undefined || !bad) throw error;
          // Out of the batch only once it is safely in the error output.
          await writeErrors(stream, [
            { recordId: bad.recordId, arrival: bad.arrival, data: bad.data, attempts: bad.attempts, errorCode: 'SchemaMismatch', errorMessage: (error as Error).message, field: (error as ValidationError).field },
          ]);
          batch.splice(refused, 1);
          if (batch.length === 0) return;
        }
      }
    } catch (error) {
      onDeliveryError(stream.name, error);
      stream.consecutiveFailures++;
      const now = Date.now();
      const expired: Pending[] = [];
      const kept: Pending[] = [];
      for (const p of batch) {
        p.failingSince ??= now;
        (now - p.failingSince >= retryDurationMs ? expired : kept).push(p);
      }
      const requeue = (rows: Pending[]) => {
        // Back at the front, ahead of what arrived meanwhile: Firehose keeps a stream's order too.
        stream.buffer = [...rows, ...stream.buffer];
        stream.bufferedBytes += rows.reduce((n, p) => n + p.data.byteLength, 0);
      };
      requeue(kept);
      if (expired.length > 0) {
        try {
          await writeErrors(
            stream,
            expired.map((p) => ({ recordId: p.recordId, arrival: p.arrival, data: p.data, attempts: p.attempts, errorCode: 'DeliveryFailed' as const, errorMessage: describe(error) })),
          );
        } catch (writeError) {
          // Neither delivered nor recorded: they stay buffered for the next attempt.
          onDeliveryError(stream.name, writeError);
          requeue(expired);
        }
      }
      if (stream.buffer.length > 0) scheduleDelivery(stream, Math.min(MAX_RETRY_DELAY_MS, retryDelayMs * 2 ** (stream.consecutiveFailures - 1)));
      throw error;
    } finally {
      stream.inFlightBytes -= bytes;
    }
  };

  /** Appends error records as one JSON-lines file per arrival date; written whole, then renamed into place. */
  const writeErrors = async (stream: StreamState, records: readonly ErrorRecord[]) => {
    if (records.length === 0) return;
    const now = Date.now();
    const byDate = new Map<string, ErrorRecord[]>();
    for (const r of records) {
      const date = new Date(r.arrival).toISOString().slice(0, 10);
      byDate.set(date, [...(byDate.get(date) ?? []), r]);
    }
    for (const [date, group] of byDate) {
      const dir = join(options.errorDir, stream.name, date);
      await mkdir(dir, { recursive: true });
      const lines = group.map((r) =>
        JSON.stringify({
          deliveryStreamName: stream.name,
          table: stream.table.name,
          recordId: r.recordId,
          attemptsMade: r.attempts,
          arrivalTimestamp: r.arrival,
          attemptEndingTimestamp: now,
          errorCode: r.errorCode,
          errorMessage: r.errorMessage,
          ...(r.field ? { field: r.field } : {}),
          rawData: Buffer.from(r.data).toString('base64'),
        }),
      );
      const file = join(dir, `${stream.name}-${new Date(now).toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.jsonl`);
      await writeFile(`${file}.tmp`, `${lines.join('\n')}\n`);
      await rename(`${file}.tmp`, file);
    }
    stream.errors += records.length;
  };

  const operations: Record<string, Operation> = {
    async PutRecord(input) {
      const stream = streamOf(input);
      const data = dataOf(input.Record, 'record');
      const invalid: ErrorRecord[] = [];
      const recordId = accept(stream, data, Date.now(), invalid);
      if (recordId === undefined) throw new FirehoseError('ServiceUnavailableException', 'Slow down.', 503);
      await writeErrors(stream, invalid);
      afterAccept(stream);
      return { RecordId: recordId, Encrypted: false };
    },

    async PutRecordBatch(input) {
      const stream = streamOf(input);
      const records = input.Records;
      if (!Array.isArray(records) || records.length === 0) {
        throw validation("1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1");
      }
      if (records.length > MAX_BATCH_RECORDS) {
        throw validation(`1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to ${MAX_BATCH_RECORDS}`);
      }
      const data = (records as unknown[]).map((r, i) => dataOf(r, `records.${i + 1}.member`));
      const total = data.reduce((n, d) => n + d.byteLength, 0);
      if (total > MAX_BATCH_BYTES) throw validation(`Records size exceeds the ${MAX_BATCH_BYTES}-byte limit of PutRecordBatch (got ${total}).`);
      const now = Date.now();
      const invalid: ErrorRecord[] = [];
      const responses = data.map((d) => {
        const recordId = accept(stream, d, now, invalid);
        return recordId === undefined ? { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' } : { RecordId: recordId };
      });
      await writeErrors(stream, invalid);
      afterAccept(stream);
      return { FailedPutCount: responses.filter((r) => 'ErrorCode' in r).length, Encrypted: false, RequestResponses: responses };
    },

    DescribeDeliveryStream(input) {
      const stream = streamOf(input);
      const hints = { SizeInMBs: Math.max(1, Math.ceil(buffering.sizeBytes / (1024 * 1024))), IntervalInSeconds: Math.ceil(buffering.intervalMs / 1000) };
      const role = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${stream.name}`;
      const errorPrefix = `firehose-errors/${stream.name}/`;
      return {
        DeliveryStreamDescription: {
          DeliveryStreamName: stream.name,
          DeliveryStreamARN: arnOf(stream.name),
          DeliveryStreamStatus: 'ACTIVE',
          DeliveryStreamType: 'DirectPut',
          VersionId: '1',
          CreateTimestamp: stream.createdAt,
          DeliveryStreamEncryptionConfiguration: { Status: 'DISABLED' },
          HasMoreDestinations: false,
          Destinations: [
            {
              DestinationId: 'destinationId-000000000001',
              IcebergDestinationDescription: {
                DestinationTableConfigurationList: [{ DestinationDatabaseName: databaseName, DestinationTableName: stream.table.name, S3ErrorOutputPrefix: errorPrefix }],
                BufferingHints: hints,
                CatalogConfiguration: { CatalogARN: `arn:aws:glue:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:catalog` },
                RetryOptions: { DurationInSeconds: Math.round(retryDurationMs / 1000) },
                S3BackupMode: 'FailedDataOnly',
                AppendOnly: true,
                RoleARN: role,
                S3DestinationDescription: {
                  RoleARN: role,
                  BucketARN: 'arn:aws:s3:::local-firehose-errors',
                  ErrorOutputPrefix: errorPrefix,
                  BufferingHints: hints,
                  CompressionFormat: 'UNCOMPRESSED',
                  EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
                },
              },
            },
          ],
        },
      };
    },

    ListDeliveryStreams(input) {
      const limit = input.Limit ?? 10;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw validation(`1 validation error detected: Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000`);
      }
      const type = input.DeliveryStreamType;
      const after = typeof input.ExclusiveStartDeliveryStreamName === 'string' ? input.ExclusiveStartDeliveryStreamName : undefined;
      const names = [...streams.keys()].sort().filter((n) => (type === undefined || type === 'DirectPut') && (after === undefined || n > after));
      return { DeliveryStreamNames: names.slice(0, limit), HasMoreDeliveryStreams: names.length > limit };
    },
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const target = req.headers['x-amz-target'];
      const operationName = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
      if (req.method !== 'POST' || !operationName) {
        throw new FirehoseError('UnknownOperationException', `This endpoint speaks the AWS JSON 1.1 protocol: POST with X-Amz-Target ${TARGET_PREFIX}<Operation>.`);
      }
      const operation = Object.hasOwn(operations, operationName) ? operations[operationName] : undefined;
      if (!operation) throw new FirehoseError('UnknownOperationException', `${operationName} is not supported by the local Firehose endpoint.`);
      if (closing) throw new FirehoseError('ServiceUnavailableException', 'The local Firehose endpoint is shutting down.', 503);
      replyJson(res, '1.1', 200, await operation(await readJsonBody(req, MAX_REQUEST_BYTES, BODY_ERRORS)));
    } catch (error) {
      const e = error instanceof FirehoseError ? error : new FirehoseError('InternalFailure', error instanceof Error ? error.message : String(error), 500);
      replyJson(res, '1.1', e.status, { __type: e.type, message: e.message });
    }
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

  const flush = async () => {
    const results = await Promise.allSettled([...streams.values()].map((s) => deliver(s)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  return {
    url: `http://${host}:${port}`,
    port,
    flush,
    stats: () =>
      Object.fromEntries([...streams.values()].map((s) => [s.name, { delivered: s.delivered, errors: s.errors, buffered: s.buffer.length }])),
    close: async () => {
      closing = true;
      // No request is under way once the server has closed, so nothing arrives after the last delivery.
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
      for (const s of streams.values()) clearTimeout(s.timer);
      // One last delivery; what still fails goes to the error output rather than vanish.
      await Promise.all(
        [...streams.values()].map(async (s) => {
          try {
            await deliver(s);
          } catch (error) {
            clearTimeout(s.timer);
            const left = s.buffer.splice(0);
            s.bufferedBytes = 0;
            await writeErrors(
              s,
              left.map((p) => ({ recordId: p.recordId, arrival: p.arrival, data: p.data, attempts: p.attempts, errorCode: 'DeliveryFailed' as const, errorMessage: `endpoint closed before delivery: ${describe(error)}` })),
            );
          }
        }),
      );
      // The sink's own work (a background compaction) finishes before its files may go away.
      await options.sink.close?.();
    },
  };
}

type ParsedRecord = { readonly ok: true; readonly row: unknown } | { readonly ok: false; readonly error: Pick<ErrorRecord, 'errorCode' | 'errorMessage' | 'field'> };

/**
 * A record as one row of `table`: one JSON object (a trailing newline allowed), timestamps in epoch
 * microseconds as the Iceberg destination takes them, that the table's schema accepts.
 */
function parseRecord(table: IcebergTableDefinition<unknown>, data: Uint8Array): ParsedRecord {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(data));
  } catch (error) {
    return { ok: false, error: { errorCode: 'InvalidJson', errorMessage: `record is not JSON: ${(error as Error).message}` } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: { errorCode: 'InvalidJson', errorMessage: 'record is not a JSON object' } };
  }
  let row: Record<string, unknown>;
  try {
    row = fromFirehoseRecord(table, value as Record<string, unknown>, 'record');
  } catch (error) {
    const e = error as ValidationError;
    return { ok: false, error: { errorCode: 'SchemaMismatch', errorMessage: e.message, field: e.field } };
  }
  const result = parseRow(table, row, 'record');
  if (!result.ok) return { ok: false, error: { errorCode: 'SchemaMismatch', errorMessage: result.error.message, field: result.error.field } };
  return { ok: true, row: result.row };
}

/** The index of the row a sink refused, from a ValidationError naming `rows[i]…`; undefined for any other failure. */
function refusedRow(error: unknown, count: number): number | undefined {
  if (!(error instanceof ValidationError)) return undefined;
  const match = /^rows\[(\d+)\]/.exec(error.field);
  const index = match ? Number(match[1]) : NaN;
  return Number.isInteger(index) && index < count ? index : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}



/** What the warehouse sink does to its tables on its own, as Glue's table optimizers do on AWS. */
export interface WarehouseMaintenance {
  /**
   * Compacts a table (its small files into one per partition, `compact`) after this many appends
   * to it, in the background: appends never wait for it, and it commits atomically beside them.
   * 0: never (`npx fathom offline compact` does it by hand). @default 0
   */
  readonly compactEvery?: number;
  /** Told of each background compaction: its result (null: nothing to compact) or its error. Must not throw (what it throws is dropped). */
  readonly onCompaction?: (table: string, outcome: { readonly result: CompactResult | null } | { readonly error: unknown }) => void;
}

/**
 * The project's Iceberg writer as a TableSink: tables under `<warehouse>/<database>/<table>/`,
 * opened (created on first use) once each; every append is one atomic commit.
 */
export function warehouseSink(options: WarehouseOptions, maintenance: WarehouseMaintenance = {}): TableSink {
  const compactEvery = maintenance.compactEvery ?? 0;
  if (!Number.isInteger(compactEvery) || compactEvery < 0) throw new ConfigError(`compactEvery: must be a non-negative integer, got ${compactEvery}`, 'compactEvery');
  const opened = new Map<string, Promise<IcebergTable<unknown>>>();
  /** Appends to each table since its last compaction started. */
  const appends = new Map<string, number>();
  /** The compaction under way, per table: one at a time each. */
  const compacting = new Map<string, Promise<void>>();
  const compactInBackground = (table: IcebergTable<unknown>): void => {
    const name = table.definition.name;
    appends.set(name, 0);
    const tell = (outcome: Parameters<NonNullable<WarehouseMaintenance['onCompaction']>>[1]): void => {
      try {
        maintenance.onCompaction?.(name, outcome);
      } catch {
        // An observer that throws must not leave a rejected compaction behind.
      }
    };
    const run = compact(table).then(
      (result) => tell({ result }),
      (error: unknown) => tell({ error }),
    );
    compacting.set(name, run.finally(() => compacting.delete(name)));
  };
  return {
    async append(definition, rows) {
      let table = opened.get(definition.name);
      if (!table) {
        table = openTable(options, definition);
        opened.set(definition.name, table);
        // A table that failed to open is opened afresh next time.
        table.catch(() => opened.delete(definition.name));
      }
      const open = await table;
      await appendRows(open, rows);
      if (compactEvery === 0) return;
      const count = (appends.get(definition.name) ?? 0) + 1;
      appends.set(definition.name, count);
      if (count >= compactEvery && !compacting.has(definition.name)) compactInBackground(open);
    },
    async close() {
      while (compacting.size > 0) await Promise.all(compacting.values());
    },
  };
}
