// One shard of a Kinesis event source mapping: read in order, batch, invoke, and on failure retry,
// bisect or discard exactly as Lambda's stream poller does. A batch is finished (succeeded or
// discarded) before the next one from the same shard is invoked, which is what keeps per-shard order.
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import type { CheckpointStore } from './checkpoint-store';
import { invokeFunction, type FunctionIdentity, type KinesisFunction } from './function-invoker';
import { fromGetRecords, type EventSourceIdentity, type ShardRecord } from './kinesis-event';
import type { DiscardedBatch } from './on-failure-record';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST';

/** The event source mapping settings, named as in CreateEventSourceMapping (times in ms). */
export interface MappingSettings {
  readonly batchSize: number;
  readonly maximumBatchingWindowMs: number;
  readonly startingPosition: StartingPosition;
  readonly bisectBatchOnFunctionError: boolean;
  readonly reportBatchItemFailures: boolean;
  /** -1: retry until the records expire, AWS's default. */
  readonly maximumRetryAttempts: number;
  /** Pause between reads of an idle shard (AWS polls about once a second). */
  readonly pollIntervalMs: number;
  /** First retry delay; doubles per attempt up to 5 s. */
  readonly retryBackoffMs: number;
}

/** Running totals, shared by all shards of one mapping. */
export interface MappingCounters {
  invocations: number;
  /** Records handed to the function, counting each retry again. */
  recordsDelivered: number;
  recordsSucceeded: number;
  recordsDiscarded: number;
  retries: number;
  bisections: number;
  functionErrors: number;
  partialFailures: number;
  readErrors: number;
}

export interface ConsumerSignals {
  stopping(): boolean;
  /** The latest waitUntilIdle ticket; an empty read that began at or after it proves the shard caught up. */
  ticket(): number;
  /** A pause that waitUntilIdle or stop cut short. */
  nap(ms: number): Promise<void>;
  /** A pause only stop cuts short (retry backoff must not be shortened by someone waiting). */
  backoff(ms: number): Promise<void>;
  changed(): void;
}

export interface ShardConsumerOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly shardId: string;
  readonly source: EventSourceIdentity;
  readonly fn: KinesisFunction;
  readonly identity: FunctionIdentity;
  readonly settings: MappingSettings;
  readonly checkpoints: CheckpointStore;
  readonly counters: MappingCounters;
  readonly discard: (batch: DiscardedBatch) => Promise<void>;
  readonly log: (message: string) => void;
  readonly signals: ConsumerSignals;
}

interface Piece {
  readonly records: readonly ShardRecord[];
  /** Retries so far; a bisected half keeps its parent's count (splitting consumes no retry). */
  readonly attempts: number;
}

const MAX_BACKOFF_MS = 5000;
const READ_ERROR_PAUSE_MS = 500;

export class ShardConsumer {
  private buffer: ShardRecord[] = [];
  private iterator: string | undefined;
  /** Last sequence number read into the buffer: where a fresh iterator must resume. */
  private lastRead: string | undefined;
  private bufferSince = 0;
  private ended = false;
  private inFlight = false;
  private caughtUpTicket = -1;
  lastCheckpoint: string | undefined;
  iteratorAgeMs = 0;

  constructor(private readonly o: ShardConsumerOptions) {
    this.lastCheckpoint = o.checkpoints.get(o.shardId);
  }

  get shardId(): string {
    return this.o.shardId;
  }

  get recordsBuffered(): number {
    return this.buffer.length;
  }

  /** Nothing buffered or in flight, and a read begun after `ticket` found the shard's tip. */
  idleFor(ticket: number): boolean {
    return !this.inFlight && this.buffer.length === 0 && (this.ended || this.caughtUpTicket >= ticket);
  }

  async run(): Promise<void> {
    const { signals } = this.o;
    while (!signals.stopping() && !(this.ended && this.buffer.length === 0)) {
      try {
        await this.step();
      } catch (error) {
        this.o.counters.readErrors += 1;
        this.o.log(`shard ${this.o.shardId}: ${describe(error)}; retrying in ${READ_ERROR_PAUSE_MS} ms`);
        await signals.backoff(READ_ERROR_PAUSE_MS);
      }
    }
    signals.changed();
  }

  private async step(): Promise<void> {
    const { settings, signals } = this.o;
    if (this.buffer.length < settings.batchSize && !this.ended) {
      const ticket = signals.ticket();
      const read = await this.read(settings.batchSize - this.buffer.length);
      if (read === 0 && this.buffer.length === 0) {
        this.caughtUpTicket = ticket;
        this.iteratorAgeMs = 0;
        signals.changed();
        await signals.nap(settings.pollIntervalMs);
        return;
      }
      // MaximumBatchingWindow: keep gathering until the batch is full or the window has passed.
      const windowLeft = settings.maximumBatchingWindowMs - (Date.now() - this.bufferSince);
      if (this.buffer.length < settings.batchSize && windowLeft > 0 && !this.ended) {
        if (read === 0) await signals.backoff(Math.min(settings.pollIntervalMs, windowLeft));
        return;
      }
    }
    await this.process(this.buffer.splice(0, settings.batchSize));
  }

  private async read(limit: number): Promise<number> {
    for (let attempt = 0; ; attempt += 1) {
      this.iterator ??= await this.newIterator();
      try {
        const out = await this.o.kinesis.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: limit }));
        this.iterator = out.NextShardIterator;
        if (this.iterator === undefined) this.ended = true; // a closed shard read to its end
        const records = (out.Records ?? []).map((r) => fromGetRecords(this.o.shardId, r));
        const last = records[records.length - 1];
        if (last) {
          if (this.buffer.length === 0) this.bufferSince = Date.now();
          this.buffer.push(...records);
          this.lastRead = last.sequenceNumber;
        }
        return records.length;
      } catch (error) {
        // Iterators live five minutes; one idle through a long invocation is simply renewed.
        if (!(error instanceof ExpiredIteratorException) || attempt > 0) throw error;
        this.iterator = undefined;
      }
    }
  }

  private async newIterator(): Promise<string> {
    const { kinesis, streamName, shardId, settings } = this.o;
    const resumeAfter = this.lastRead ?? this.lastCheckpoint;
    if (resumeAfter !== undefined) {
      try {
        const out = await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: streamName,
            ShardId: shardId,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            StartingSequenceNumber: resumeAfter,
          }),
        );
        if (out.ShardIterator) return out.ShardIterator;
      } catch (error) {
        // A checkpoint from an older incarnation of the stream (its data was deleted): start afresh.
        if (!(error instanceof InvalidArgumentException) || this.lastRead !== undefined) throw error;
        this.o.log(`shard ${shardId}: checkpoint ${resumeAfter} is not in this stream; starting at ${settings.startingPosition}`);
        this.lastCheckpoint = undefined;
      }
    }
    const out = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: settings.startingPosition }),
    );
    if (!out.ShardIterator) throw new Error(`GetShardIterator returned no iterator for ${shardId}`);
    return out.ShardIterator;
  }

  /** Runs one batch to completion: every record ends succeeded or discarded, unless stopping. */
  private async process(batch: readonly ShardRecord[]): Promise<void> {
    const { settings, counters, signals } = this.o;
    const retriesLeft = (attempts: number) => settings.maximumRetryAttempts < 0 || attempts < settings.maximumRetryAttempts;
    const work: Piece[] = [{ records: batch, attempts: 0 }];
    this.inFlight = true;
    try {
      for (let piece = work.shift(); piece; piece = work.shift()) {
        // Stopping mid-batch leaves the rest unacknowledged: it is delivered again after a restart.
        if (signals.stopping()) return;
        const last = piece.records[piece.records.length - 1];
        if (!last) continue;
        counters.invocations += 1;
        counters.recordsDelivered += piece.records.length;
        this.iteratorAgeMs = Date.now() - last.approximateArrivalTimestamp;
        const { requestId, outcome } = await invokeFunction(
          this.o.fn,
          piece.records,
          this.o.source,
          this.o.identity,
          settings.reportBatchItemFailures,
        );

        if (outcome.kind === 'success') {
          this.complete(piece.records);
          continue;
        }

        if (outcome.kind === 'partial') {
          // Lambda checkpoints before the lowest failed record and retries from there.
          counters.partialFailures += 1;
          this.complete(piece.records.slice(0, outcome.retryFrom));
          const rest = piece.records.slice(outcome.retryFrom);
          if (!retriesLeft(piece.attempts)) {
            await this.discard(rest, requestId, piece.attempts + 1, false);
            continue;
          }
          await this.retry(work, { records: rest, attempts: piece.attempts + 1 });
          continue;
        }

        counters.functionErrors += 1;
        this.o.log(`shard ${this.o.shardId}: function error on ${piece.records.length} record(s): ${describe(outcome.error)}`);
        if (settings.bisectBatchOnFunctionError && piece.records.length > 1) {
          const middle = Math.ceil(piece.records.length / 2);
          counters.bisections += 1;
          work.unshift(
            { records: piece.records.slice(0, middle), attempts: piece.attempts },
            { records: piece.records.slice(middle), attempts: piece.attempts },
          );
          continue;
        }
        if (!retriesLeft(piece.attempts)) {
          await this.discard(piece.records, requestId, piece.attempts + 1, true);
          continue;
        }
        await this.retry(work, { records: piece.records, attempts: piece.attempts + 1 });
      }
    } finally {
      this.inFlight = false;
      signals.changed();
    }
  }

  private async retry(work: Piece[], piece: Piece): Promise<void> {
    this.o.counters.retries += 1;
    await this.o.signals.backoff(Math.min(MAX_BACKOFF_MS, this.o.settings.retryBackoffMs * 2 ** (piece.attempts - 1)));
    work.unshift(piece);
  }

  private complete(records: readonly ShardRecord[]): void {
    const last = records[records.length - 1];
    if (!last) return;
    this.o.counters.recordsSucceeded += records.length;
    this.checkpoint(last.sequenceNumber);
  }

  private async discard(records: readonly ShardRecord[], requestId: string, invokeCount: number, functionError: boolean) {
    const last = records[records.length - 1];
    if (!last) return;
    await this.o.discard({
      records,
      streamArn: this.o.source.streamArn,
      functionArn: this.o.identity.functionArn,
      requestId,
      condition: 'RetryAttemptsExhausted',
      invokeCount,
      functionError,
      now: Date.now(),
    });
    this.o.counters.recordsDiscarded += records.length;
    this.checkpoint(last.sequenceNumber);
  }

  private checkpoint(sequenceNumber: string): void {
    this.lastCheckpoint = sequenceNumber;
    this.o.checkpoints.set(this.o.shardId, sequenceNumber);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
