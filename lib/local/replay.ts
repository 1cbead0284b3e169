// Replays raw events into the local Kinesis stream as a producer would: PutRecords of up to 500
// records, partition key = the event's entity id, and only the entries a partial failure rejected
// sent again. Malformed payloads can be mixed in to exercise the dead-letter path.
import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { ResourceError, ValidationError } from '../core/errors';
import { ProgressLine, type ProgressLineOptions } from './progress-line';

/** PutRecords limits: 500 entries and 5 MiB per call, 1 MiB per record, 256-character partition keys. */
const MAX_ENTRIES = 500;
const MAX_CALL_BYTES = 5 * 1024 * 1024;
const MAX_RECORD_BYTES = 1024 * 1024;
const MAX_PARTITION_KEY = 256;

export interface ReplayOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  /** The event field holding the partition key (platformResources().eventsStream.partitionKeyField). */
  readonly partitionKeyField: string;
  readonly events: Iterable<unknown> | AsyncIterable<unknown>;
  /** Payloads put verbatim (not JSON-encoded again): invalid JSON, wrong fields, … */
  readonly malformed?: readonly (string | Uint8Array)[];
  /** One malformed payload follows every this many events; those left over go last. Default 100. */
  readonly malformedEvery?: number;
  /** Entries per PutRecords call, 1 to 500. Default 500. */
  readonly recordsPerCall?: number;
  /** Tries per record before the replay fails. Default 8. */
  readonly maxAttempts?: number;
  /** Called after every PutRecords call. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Stops the replay between calls (it rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

export interface ReplayProgress {
  readonly events: number;
  readonly malformed: number;
  /** Entries sent again after a partial failure. */
  readonly retried: number;
}

export interface ReplayResult extends ReplayProgress {
  readonly seconds: number;
}

export async function replayEvents(options: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  const perCall = options.recordsPerCall ?? MAX_ENTRIES;
  if (!Number.isInteger(perCall) || perCall < 1 || perCall > MAX_ENTRIES) {
    throw new ValidationError(`recordsPerCall must be an integer from 1 to ${MAX_ENTRIES}`, 'recordsPerCall');
  }
  const every = options.malformedEvery ?? 100;
  const malformed = [...(options.malformed ?? [])];
  const progress = { events: 0, malformed: 0, retried: 0 };
  let batch: PutRecordsRequestEntry[] = [];
  let batchBytes = 0;
  let batchEvents = 0;
  let batchMalformed = 0;

  const flush = async () => {
    options.signal?.throwIfAborted();
    if (batch.length === 0) return;
    progress.retried += await putAll(options, batch);
    progress.events += batchEvents;
    progress.malformed += batchMalformed;
    batch = [];
    batchBytes = batchEvents = batchMalformed = 0;
    options.onProgress?.({ ...progress });
  };
  const add = async (entry: PutRecordsRequestEntry, isEvent: boolean) => {
    const bytes = (entry.Data?.byteLength ?? 0) + (entry.PartitionKey?.length ?? 0);
    if (batch.length >= perCall || batchBytes + bytes > MAX_CALL_BYTES) await flush();
    batch.push(entry);
    batchBytes += bytes;
    if (isEvent) batchEvents += 1;
    else batchMalformed += 1;
  };

  let sinceMalformed = 0;
  let malformedIndex = 0;
  const putMalformed = async () => {
    const payload = malformed.shift();
    if (payload === undefined) return false;
    await add(malformedEntry(payload, malformedIndex++), false);
    return true;
  };
  for await (const event of options.events) {
    await add(eventEntry(event, options.partitionKeyField, progress.events + batchEvents), true);
    if (++sinceMalformed >= every) {
      sinceMalformed = 0;
      await putMalformed();
    }
  }
  while (await putMalformed());
  await flush();
  return { ...progress, seconds: (performance.now() - started) / 1000 };
}

function eventEntry(event: unknown, keyField: string, index: number): PutRecordsRequestEntry {
  const key = typeof event === 'object' && event !== null ? (event as Record<string, unknown>)[keyField] : undefined;
  // An event without a usable key still goes in (the handler dead-letters it); any key will do.
  const partitionKey = typeof key === 'string' && key !== '' ? key.slice(0, MAX_PARTITION_KEY) : `unkeyed-${index % 64}`;
  const data = Buffer.from(JSON.stringify(event));
  if (data.byteLength > MAX_RECORD_BYTES) {
    throw new ValidationError(`event ${index} is ${data.byteLength} bytes; a Kinesis record holds at most ${MAX_RECORD_BYTES}`, `events[${index}]`);
  }
  return { PartitionKey: partitionKey, Data: data };
}

function malformedEntry(payload: string | Uint8Array, index: number): PutRecordsRequestEntry {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (data.byteLength > MAX_RECORD_BYTES) {
    throw new ValidationError(`malformed payload ${index} exceeds ${MAX_RECORD_BYTES} bytes`, `malformed[${index}]`);
  }
  // Spread over the shards: a bad record should sit among good ones, not on a shard of its own.
  return { PartitionKey: `malformed-${index}`, Data: data };
}

/**
 * Puts every entry, resending only those a partial failure rejected. A resent entry can land
 * after later entries of its partition key: the same ordering caveat PutRecords has on AWS.
 * Returns how many entries were resent.
 */
async function putAll(options: ReplayOptions, entries: readonly PutRecordsRequestEntry[]): Promise<number> {
  const maxAttempts = options.maxAttempts ?? 8;
  let pending = entries;
  let resent = 0;
  for (let attempt = 1; ; attempt += 1) {
    let failed: PutRecordsRequestEntry[];
    try {
      const out = await options.kinesis.send(new PutRecordsCommand({ StreamName: options.streamName, Records: [...pending] }));
      failed = (out.FailedRecordCount ?? 0) > 0 ? pending.filter((_, i) => out.Records?.[i]?.ErrorCode !== undefined) : [];
    } catch (error) {
      if (attempt >= maxAttempts) throw error;
      failed = [...pending];
    }
    if (failed.length === 0) return resent;
    if (attempt >= maxAttempts) {
      throw new ResourceError(`${failed.length} records were still rejected after ${maxAttempts} PutRecords attempts`, options.streamName, true);
    }
    resent += failed.length;
    pending = failed;
    await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
  }
}

export interface ReplayStatus {
  /** Records put so far (events and malformed payloads). */
  sent(): number;
  /** Records the event source mapping has finished (succeeded or discarded). */
  processed(): number;
  /** Messages in the dead-letter queue. */
  dlq(): Promise<number>;
}

/** The live line of a replay: put rate, lag behind the put (records), and the DLQ depth. */
export function startReplayProgress(status: ReplayStatus, options?: ProgressLineOptions): ProgressLine {
  const started = performance.now();
  let last = { at: started, sent: 0 };
  return new ProgressLine(async () => {
    const now = performance.now();
    const sent = status.sent();
    const rate = now > last.at ? ((sent - last.sent) * 1000) / (now - last.at) : 0;
    last = { at: now, sent };
    const lag = Math.max(0, sent - status.processed());
    const dlq = await status.dlq();
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    return `replay ${n(sent)} records | ${n(rate)} records/s | lag ${n(lag)} | dlq ${n(dlq)} | ${((now - started) / 1000).toFixed(1)} s`;
  }, options);
}
