// The local stand-in for Lambda's Kinesis event source mapping: one ShardConsumer per shard, an
// SQS on-failure destination, running totals, and waitUntilIdle() for scripts and tests that must
// know every record put so far has been processed.
import { DescribeStreamSummaryCommand, ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ResourceError } from '../core/errors';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws-clients';
import { MemoryCheckpointStore, type CheckpointStore } from './checkpoint-store';
import type { KinesisFunction } from './function-invoker';
import { onFailureRecord, type DiscardedBatch } from './on-failure-record';
import { ShardConsumer, type MappingCounters, type MappingSettings } from './shard-consumer';
import { Sleeper } from './sleeper';

export type { KinesisFunction } from './function-invoker';
export type { MappingSettings, StartingPosition } from './shard-consumer';

export interface EventSourcePollerOptions extends Partial<MappingSettings> {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly fn: KinesisFunction;
  readonly functionName?: string;
  /** Lambda's function timeout; an invocation running longer counts as a function error. */
  readonly functionTimeoutMs?: number;
  /** The on-failure destination (DestinationConfig.OnFailure) as an SQS queue URL, with its client. */
  readonly onFailure?: { readonly sqs: SQSClient; readonly queueUrl: string };
  /** Where processing resumes after a restart; in memory (start at startingPosition) by default. */
  readonly checkpoints?: CheckpointStore;
  readonly log?: (message: string) => void;
}

export interface ShardStats {
  readonly shardId: string;
  readonly recordsBuffered: number;
  readonly iteratorAgeMs: number;
  readonly lastCheckpoint: string | undefined;
}

export interface PollerStats extends Readonly<MappingCounters> {
  /** On-failure records sent to the destination (one per discarded batch). */
  readonly dlqSends: number;
  readonly dlqSendFailures: number;
  /** Records read from the stream and not yet finished. */
  readonly recordsBuffered: number;
  /** Age of the newest record in the batch last invoked, the largest over shards; 0 once caught up. */
  readonly iteratorAgeMs: number;
  readonly shards: readonly ShardStats[];
}

export const DEFAULT_MAPPING_SETTINGS: MappingSettings = {
  batchSize: 100,
  maximumBatchingWindowMs: 0,
  startingPosition: 'TRIM_HORIZON',
  bisectBatchOnFunctionError: false,
  reportBatchItemFailures: false,
  maximumRetryAttempts: -1,
  pollIntervalMs: 200,
  retryBackoffMs: 100,
};

const DLQ_SEND_ATTEMPTS = 3;

export class EventSourcePoller {
  private readonly consumers: ShardConsumer[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly counters: MappingCounters = {
    invocations: 0,
    recordsDelivered: 0,
    recordsSucceeded: 0,
    recordsDiscarded: 0,
    retries: 0,
    bisections: 0,
    functionErrors: 0,
    partialFailures: 0,
    readErrors: 0,
  };
  private dlqSends = 0;
  private dlqSendFailures = 0;
  private ticket = 0;
  private stopping = false;
  private readonly naps = new Sleeper();
  private readonly backoffs = new Sleeper();
  private readonly waiters = new Set<{ ticket: number; resolve: () => void; reject: (e: Error) => void }>();
  private readonly checkpoints: CheckpointStore;
  private readonly log: (message: string) => void;

  private constructor(private readonly options: EventSourcePollerOptions) {
    this.checkpoints = options.checkpoints ?? new MemoryCheckpointStore();
    this.log = options.log ?? ((message) => process.stderr.write(`[event-source] ${message}\n`));
  }

  /** Lists the stream's open shards and starts one consumer per shard. */
  static async start(options: EventSourcePollerOptions): Promise<EventSourcePoller> {
    const poller = new EventSourcePoller(options);
    await poller.begin();
    return poller;
  }

  private async begin(): Promise<void> {
    const { kinesis, streamName, fn } = this.options;
    const settings: MappingSettings = { ...DEFAULT_MAPPING_SETTINGS, ...definedOnly(this.options) };
    if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1 || settings.batchSize > 10_000) {
      throw new RangeError(`batchSize must be an integer from 1 to 10000, got ${settings.batchSize}`);
    }
    const { StreamDescriptionSummary: summary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    const streamArn = summary?.StreamARN;
    if (!streamArn) throw new ResourceError(`stream ${streamName} has no ARN`, streamName, true);
    const functionName = this.options.functionName ?? 'local-function';
    const identity = {
      functionName,
      functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
      timeoutMs: this.options.functionTimeoutMs ?? 60_000,
      memoryLimitInMB: 1024,
    };
    const source = {
      streamArn,
      region: LOCAL_REGION,
      invokeIdentityArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${functionName}-role`,
    };
    for (const shard of await this.openShards()) {
      this.consumers.push(
        new ShardConsumer({
          kinesis,
          streamName,
          shardId: shard.ShardId ?? '',
          source,
          fn,
          identity,
          settings,
          checkpoints: this.checkpoints,
          counters: this.counters,
          discard: (batch) => this.discard(batch),
          log: this.log,
          signals: {
            stopping: () => this.stopping,
            ticket: () => this.ticket,
            nap: (ms) => this.naps.sleep(ms),
            backoff: (ms) => this.backoffs.sleep(ms),
            changed: () => this.settleWaiters(),
          },
        }),
      );
    }
    for (const consumer of this.consumers) this.loops.push(consumer.run());
  }

  private async openShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let NextToken: string | undefined;
    do {
      const out = await this.options.kinesis.send(
        NextToken ? new ListShardsCommand({ NextToken }) : new ListShardsCommand({ StreamName: this.options.streamName }),
      );
      shards.push(...(out.Shards ?? []));
      NextToken = out.NextToken;
    } while (NextToken);
    // The local stream never reshards; only open shards (no ending sequence number) have a reader.
    return shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
  }

  /** Sends an on-failure record for a discarded batch, as Lambda's SQS destination does. */
  private async discard(batch: DiscardedBatch): Promise<void> {
    const destination = this.options.onFailure;
    if (!destination) return; // no destination: the records are dropped, as on AWS
    const body = JSON.stringify(onFailureRecord(batch));
    for (let attempt = 1; ; attempt += 1) {
      try {
        await destination.sqs.send(new SendMessageCommand({ QueueUrl: destination.queueUrl, MessageBody: body }));
        this.dlqSends += 1;
        return;
      } catch (error) {
        if (attempt >= DLQ_SEND_ATTEMPTS || this.stopping) {
          this.dlqSendFailures += 1;
          this.log(`on-failure destination refused a record (${String(error)}); lost: ${body}`);
          return;
        }
        await this.backoffs.sleep(100 * attempt);
      }
    }
  }

  stats(): PollerStats {
    return {
      ...this.counters,
      dlqSends: this.dlqSends,
      dlqSendFailures: this.dlqSendFailures,
      recordsBuffered: this.consumers.reduce((n, c) => n + c.recordsBuffered, 0),
      iteratorAgeMs: this.consumers.reduce((age, c) => Math.max(age, c.iteratorAgeMs), 0),
      shards: this.consumers.map((c) => ({
        shardId: c.shardId,
        recordsBuffered: c.recordsBuffered,
        iteratorAgeMs: c.iteratorAgeMs,
        lastCheckpoint: c.lastCheckpoint,
      })),
    };
  }

  /**
   * Resolves once every shard has read up to the stream's tip, as it stood when this was called,
   * and finished every record it read (succeeded or discarded), with no invocation in flight.
   */
  waitUntilIdle(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return Promise.reject(new ResourceError('the event source poller is stopped', this.options.streamName, false));
    const ticket = ++this.ticket;
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        ticket,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters.delete(waiter);
          const behind = this.stats().recordsBuffered;
          reject(new ResourceError(`stream ${this.options.streamName} not drained after ${options.timeoutMs} ms (${behind} records buffered)`, this.options.streamName, true));
        }, options.timeoutMs);
      }
      this.waiters.add(waiter);
      // Idle shards nap between reads: wake them so the proof of idleness is a read made now.
      this.naps.wakeAll();
      this.settleWaiters();
    });
  }

  private settleWaiters(): void {
    for (const waiter of this.waiters) {
      if (this.consumers.every((c) => c.idleFor(waiter.ticket))) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Stops reading, lets the invocation in flight on each shard finish, and saves checkpoints. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.naps.wakeAll();
    this.backoffs.wakeAll();
    await Promise.allSettled(this.loops);
    this.checkpoints.flush();
    for (const waiter of this.waiters) waiter.reject(new ResourceError('the event source poller stopped', this.options.streamName, false));
    this.waiters.clear();
  }
}

/** Option keys explicitly set to undefined must not override the defaults. */
function definedOnly(options: Partial<MappingSettings>): Partial<MappingSettings> {
  return Object.fromEntries(
    (Object.keys(DEFAULT_MAPPING_SETTINGS) as (keyof MappingSettings)[])
      .filter((k) => options[k] !== undefined)
      .map((k) => [k, options[k]]),
  ) as Partial<MappingSettings>;
}
