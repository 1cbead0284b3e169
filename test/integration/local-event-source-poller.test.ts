// The local Kinesis event source mapping against real kinesalite and the local SQS endpoint. Each
// test's handler is the Lambda under test (a function written here), not a mock of any I/O.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localClients, type LocalClients } from '../../lib/local/aws-clients';
import { FileCheckpointStore } from '../../lib/local/checkpoint-store';
import { EventSourcePoller, type EventSourcePollerOptions } from '../../lib/local/event-source-poller';
import type { OnFailureRecord } from '../../lib/local/on-failure-record';
import { startStandIns, type StandIns } from '../../lib/local/stand-ins';

interface Payload {
  readonly key: string;
  readonly n: number;
}

let standIns: StandIns;
let clients: LocalClients;
let dataDir: string;
let streams = 0;
const pollers: EventSourcePoller[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fathom-poller-'));
  standIns = await startStandIns({ dataDir, persist: false });
  clients = localClients(standIns.endpoints);
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  clients.destroy();
  await standIns.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function newStream(shards: number): Promise<string> {
  const name = `stream-${++streams}`;
  await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (;;) {
    const { StreamDescriptionSummary } = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function newQueue(): Promise<string> {
  return (await clients.sqs.send(new CreateQueueCommand({ QueueName: `dlq-${streams}-${Date.now()}` }))).QueueUrl!;
}

/** Puts payloads in order, each with its key as partition key; returns their sequence numbers. */
async function put(streamName: string, payloads: readonly Payload[]): Promise<string[]> {
  const sequenceNumbers: string[] = [];
  for (let i = 0; i < payloads.length; i += 500) {
    const chunk = payloads.slice(i, i + 500);
    const out = await clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: chunk.map((p) => ({ PartitionKey: p.key, Data: Buffer.from(JSON.stringify(p)) })),
      }),
    );
    expect(out.FailedRecordCount ?? 0).toBe(0);
    sequenceNumbers.push(...(out.Records ?? []).map((r) => r.SequenceNumber!));
  }
  return sequenceNumbers;
}

const decode = (record: KinesisStreamRecord): Payload =>
  JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8')) as Payload;

async function startPoller(options: Omit<EventSourcePollerOptions, 'kinesis' | 'log'>): Promise<EventSourcePoller> {
  const poller = await EventSourcePoller.start({ kinesis: clients.kinesis, log: () => undefined, pollIntervalMs: 20, retryBackoffMs: 5, ...options });
  pollers.push(poller);
  return poller;
}

async function dlqMessages(queueUrl: string): Promise<OnFailureRecord[]> {
  const out: OnFailureRecord[] = [];
  for (;;) {
    const { Messages } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }));
    if (!Messages?.length) return out;
    out.push(...Messages.map((m) => JSON.parse(m.Body!) as OnFailureRecord));
  }
}

const payloads = (keys: number, perKey: number): Payload[] =>
  Array.from({ length: keys * perKey }, (_, i) => ({ key: `card-${i % keys}`, n: Math.floor(i / keys) }));

describe('local Kinesis event source mapping', () => {
  it('delivers every record once, in order per shard and per partition key, as genuine Kinesis events', async () => {
    const streamName = await newStream(3);
    const sent = payloads(17, 60); // 1020 records over 17 keys
    const sequenceNumbers = await put(streamName, sent);
    const seen = new Map<string, number[]>();
    const perShard = new Map<string, bigint[]>();
    const events: KinesisStreamEvent[] = [];
    const poller = await startPoller({
      streamName,
      batchSize: 50,
      fn: async (event) => {
        events.push(event);
        for (const record of event.Records) {
          const p = decode(record);
          seen.set(p.key, [...(seen.get(p.key) ?? []), p.n]);
          const shardId = record.eventID.split(':')[0]!;
          perShard.set(shardId, [...(perShard.get(shardId) ?? []), BigInt(record.kinesis.sequenceNumber)]);
        }
      },
    });
    await poller.waitUntilIdle({ timeoutMs: 30_000 });

    for (const [key, ns] of seen) expect(ns, key).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(seen.size).toBe(17);
    expect(perShard.size).toBe(3);
    for (const seqs of perShard.values()) expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(events.every((e) => e.Records.length <= 50)).toBe(true);

    const record = events[0]!.Records[0]!;
    const { StreamDescriptionSummary } = await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    expect(record).toMatchObject({
      eventSource: 'aws:kinesis',
      eventName: 'aws:kinesis:record',
      eventVersion: '1.0',
      awsRegion: 'us-east-1',
      eventSourceARN: StreamDescriptionSummary!.StreamARN,
      kinesis: { kinesisSchemaVersion: '1.0' },
    });
    expect(record.eventID).toBe(`${record.eventID.split(':')[0]}:${record.kinesis.sequenceNumber}`);
    expect(sequenceNumbers).toContain(record.kinesis.sequenceNumber);
    expect(Math.abs(record.kinesis.approximateArrivalTimestamp - Date.now() / 1000)).toBeLessThan(60);

    const stats = poller.stats();
    expect(stats).toMatchObject({ recordsDelivered: 1020, recordsSucceeded: 1020, retries: 0, functionErrors: 0, recordsBuffered: 0 });
    expect(stats.invocations).toBe(events.length);
  });

  it('keeps consuming records put after it caught up, and waitUntilIdle sees them', async () => {
    const streamName = await newStream(2);
    let delivered = 0;
    const poller = await startPoller({ streamName, fn: async (e) => void (delivered += e.Records.length) });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(delivered).toBe(0);
    await put(streamName, payloads(5, 20));
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(delivered).toBe(100);
  });

  it('retries from the lowest reported failure, never redelivering the records before it', async () => {
    const streamName = await newStream(1);
    const sequenceNumbers = await put(streamName, payloads(1, 30));
    const deliveries = new Map<number, number>();
    let failedOnce = false;
    const poller = await startPoller({
      streamName,
      batchSize: 10,
      reportBatchItemFailures: true,
      maximumRetryAttempts: 3,
      fn: async (event) => {
        const ns = event.Records.map((r) => decode(r).n);
        for (const n of ns) deliveries.set(n, (deliveries.get(n) ?? 0) + 1);
        // The first time record 14 is seen, report it and a later one (17) as failed.
        if (!failedOnce && ns.includes(14)) {
          failedOnce = true;
          const failed = event.Records.filter((r) => [17, 14].includes(decode(r).n));
          return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.kinesis.sequenceNumber })) };
        }
        return { batchItemFailures: [] };
      },
    });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });

    expect(sequenceNumbers).toHaveLength(30);
    for (let n = 0; n < 30; n++) expect(deliveries.get(n), `record ${n}`).toBe(n >= 14 && n < 20 ? 2 : 1);
    expect(poller.stats()).toMatchObject({ partialFailures: 1, retries: 1, recordsSucceeded: 30, recordsDiscarded: 0 });
  });

  it('bisects a failing batch until the poison record is alone, then sends only it to the DLQ', async () => {
    const streamName = await newStream(1);
    const queueUrl = await newQueue();
    const sequenceNumbers = await put(streamName, payloads(1, 40));
    const poison = 21;
    const succeeded: number[] = [];
    const poller = await startPoller({
      streamName,
      batchSize: 16,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 2,
      onFailure: { sqs: clients.sqs, queueUrl },
      functionName: 'feature-transform',
      fn: async (event) => {
        const ns = event.Records.map((r) => decode(r).n);
        if (ns.includes(poison)) throw new Error('poison record');
        succeeded.push(...ns);
      },
    });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });

    // Every other record succeeded exactly once, in order; processing went on past the poison.
    expect(succeeded).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((n) => n !== poison));
    const dlq = await dlqMessages(queueUrl);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({
      requestContext: {
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:feature-transform',
      },
      responseContext: { statusCode: 200, functionError: 'Unhandled' },
      version: '1.0',
      KinesisBatchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: sequenceNumbers[poison],
        endSequenceNumber: sequenceNumbers[poison],
        batchSize: 1,
        streamArn: expect.stringMatching(new RegExp(`:stream/${streamName}$`)),
      },
    });
    expect(poller.stats()).toMatchObject({ recordsSucceeded: 39, recordsDiscarded: 1, dlqSends: 1, retries: 2 });
  });

  it('without bisect, sends the whole batch to the DLQ once retries are exhausted, and moves on', async () => {
    const streamName = await newStream(1);
    const queueUrl = await newQueue();
    const sequenceNumbers = await put(streamName, payloads(1, 25));
    const attempts = new Map<number, number>();
    const succeeded: number[] = [];
    const poller = await startPoller({
      streamName,
      batchSize: 10,
      maximumRetryAttempts: 1,
      onFailure: { sqs: clients.sqs, queueUrl },
      fn: async (event) => {
        const ns = event.Records.map((r) => decode(r).n);
        for (const n of ns) attempts.set(n, (attempts.get(n) ?? 0) + 1);
        if (ns.includes(12)) throw new Error('boom');
        succeeded.push(...ns);
      },
    });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });

    expect(succeeded).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 5 }, (_, i) => 20 + i)]);
    for (let n = 10; n < 20; n++) expect(attempts.get(n)).toBe(2); // the first try and one retry
    const [record, ...rest] = await dlqMessages(queueUrl);
    expect(rest).toHaveLength(0);
    expect(record!.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: sequenceNumbers[10],
      endSequenceNumber: sequenceNumbers[19],
      batchSize: 10,
    });
    expect(record!.requestContext.approximateInvokeCount).toBe(2);
  });

  it('discards from the failed record on when partial failures exhaust the retries', async () => {
    const streamName = await newStream(1);
    const queueUrl = await newQueue();
    const sequenceNumbers = await put(streamName, payloads(1, 10));
    const poller = await startPoller({
      streamName,
      batchSize: 10,
      reportBatchItemFailures: true,
      maximumRetryAttempts: 2,
      onFailure: { sqs: clients.sqs, queueUrl },
      fn: async (event) => {
        const bad = event.Records.find((r) => decode(r).n === 6);
        return { batchItemFailures: bad ? [{ itemIdentifier: bad.kinesis.sequenceNumber }] : [] };
      },
    });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    const [record] = await dlqMessages(queueUrl);
    expect(record!.KinesisBatchInfo).toMatchObject({ startSequenceNumber: sequenceNumbers[6], endSequenceNumber: sequenceNumbers[9], batchSize: 4 });
    expect(record!.responseContext.functionError).toBeUndefined();
    expect(poller.stats()).toMatchObject({ recordsSucceeded: 6, recordsDiscarded: 4, invocations: 3, retries: 2 });
  });

  it('treats an unknown itemIdentifier as a failure of the whole batch', async () => {
    const streamName = await newStream(1);
    await put(streamName, payloads(1, 5));
    let calls = 0;
    const poller = await startPoller({
      streamName,
      reportBatchItemFailures: true,
      fn: async () => (++calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] } : undefined),
    });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(poller.stats()).toMatchObject({ invocations: 2, recordsDelivered: 10, functionErrors: 1, recordsSucceeded: 5 });
  });

  it('counts a function that outlives its timeout as failed', async () => {
    const streamName = await newStream(1);
    await put(streamName, payloads(1, 3));
    let calls = 0;
    const poller = await startPoller({
      streamName,
      functionTimeoutMs: 50,
      fn: async () => {
        if (++calls === 1) await new Promise((r) => setTimeout(r, 200));
      },
    });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(poller.stats()).toMatchObject({ functionErrors: 1, retries: 1, recordsSucceeded: 3 });
  });

  it('gathers records for up to maximumBatchingWindow before invoking', async () => {
    const streamName = await newStream(1);
    const sizes: number[] = [];
    const poller = await startPoller({
      streamName,
      batchSize: 100,
      maximumBatchingWindowMs: 1500,
      fn: async (event) => void sizes.push(event.Records.length),
    });
    for (let i = 0; i < 10; i++) {
      await put(streamName, [{ key: 'k', n: i }]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(sizes.length).toBeLessThanOrEqual(2);
  });

  it('starts at LATEST when asked, skipping what was already in the stream', async () => {
    const streamName = await newStream(1);
    await put(streamName, payloads(1, 5));
    const seen: number[] = [];
    const poller = await startPoller({ streamName, startingPosition: 'LATEST', fn: async (e) => void seen.push(...e.Records.map((r) => decode(r).n)) });
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    await put(streamName, [{ key: 'k', n: 100 }]);
    await poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(seen).toEqual([100]);
  });

  it('resumes after its checkpoint when restarted', async () => {
    const streamName = await newStream(2);
    const file = join(dataDir, `${streamName}-checkpoints.json`);
    const seen: number[] = [];
    const fn = async (event: KinesisStreamEvent) => void seen.push(...event.Records.map((r) => decode(r).n));

    await put(streamName, payloads(4, 5).map((p) => ({ ...p, n: p.n * 4 + Number(p.key.slice(5)) })));
    const first = await startPoller({ streamName, fn, checkpoints: new FileCheckpointStore(file) });
    await first.waitUntilIdle({ timeoutMs: 10_000 });
    await first.stop();
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));

    seen.length = 0;
    await put(streamName, [{ key: 'card-0', n: 20 }, { key: 'card-1', n: 21 }]);
    const second = await startPoller({ streamName, fn, checkpoints: new FileCheckpointStore(file) });
    await second.waitUntilIdle({ timeoutMs: 10_000 });
    expect(seen.sort((a, b) => a - b)).toEqual([20, 21]);
  });

  it('rejects waitUntilIdle on timeout while a shard is stuck retrying', async () => {
    const streamName = await newStream(1);
    await put(streamName, payloads(1, 1));
    const poller = await startPoller({ streamName, fn: async () => Promise.reject(new Error('always')) });
    await expect(poller.waitUntilIdle({ timeoutMs: 300 })).rejects.toThrow(/not drained/);
    expect(poller.stats().retries).toBeGreaterThan(0);
  });
});
