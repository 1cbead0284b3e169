// The embedded platform as `npm start` assembles it: stand-ins, provisioning from the shared
// resource definitions, the handler loaded after its environment is set, the event source mapping
// with its DLQ, persistence across restarts, and the real feature-transform handler end to end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { ResourceError } from '../../lib/core/errors';
import { generateWorkload } from '../../lib/core/generator';
import { malformedPayloads } from '../../lib/local/malformed-payloads';
import { summarizeOnlineStore } from '../../lib/local/online-store-summary';
import { startLocalPlatform, type LocalPlatform } from '../../lib/local/platform';
import { replayEvents } from '../../lib/local/replay';

const dirs: string[] = [];
const running: LocalPlatform[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-platform-'));
  dirs.push(dir);
  return dir;
};
const quiet = { quietFunction: true, log: () => undefined } as const;

async function start(options: Parameters<typeof startLocalPlatform>[0]): Promise<LocalPlatform> {
  const platform = await startLocalPlatform(options);
  running.push(platform);
  return platform;
}

async function stop(platform: LocalPlatform): Promise<void> {
  running.splice(running.indexOf(platform), 1);
  await platform.stop();
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const workload = (events: number, seed = 7) => [...generateWorkload({ seed, events })].map((g) => g.event);

async function replay(platform: LocalPlatform, events: readonly unknown[], malformed: readonly string[] = []) {
  return replayEvents({
    kinesis: platform.clients.kinesis,
    streamName: platform.resources.streamName,
    partitionKeyField: platform.resources.partitionKeyField,
    events,
    malformed,
    malformedEvery: 50,
  });
}

describe('local platform', () => {
  it('loads the handler module only after pointing its environment at the stand-ins', async () => {
    // A handler module written for this test: it records the environment it saw at load time.
    const dir = tempDir();
    const handlerPath = join(dir, 'env-probe.mjs');
    writeFileSync(
      handlerPath,
      `const keys = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SQS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'FATHOM_ONLINE_STORE_TABLE', 'FATHOM_DLQ_URL', 'FATHOM_ALLOWED_LATENESS_SECONDS'];
       export const atLoad = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
       export async function handler(event) { globalThis.probeSeen.push(...event.Records.map((r) => r.kinesis.partitionKey)); }`,
    );
    const seen: string[] = [];
    Object.assign(globalThis, { probeSeen: seen });
    const before = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    const platform = await start({ ...quiet, dataDir: join(dir, 'state'), persist: false, handler: handlerPath });
    const probe = (await import(handlerPath)) as { atLoad: Record<string, string> };
    expect(probe.atLoad).toEqual({
      AWS_ENDPOINT_URL_DYNAMODB: platform.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: platform.endpoints.sqs,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      FATHOM_ONLINE_STORE_TABLE: 'fathom-online-store',
      FATHOM_DLQ_URL: platform.resources.dlqUrl,
      FATHOM_ALLOWED_LATENESS_SECONDS: '300',
    });
    await replay(platform, [{ entity_id: 'card_1' }, { entity_id: 'card_2' }]);
    await platform.poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(seen.sort()).toEqual(['card_1', 'card_2']);

    await stop(platform);
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(before);
  });

  it('gives each concurrent invocation its own instance of the handler module, as Lambda gives each its own environment', async () => {
    // Module-scope state, as Powertools' BatchProcessor keeps it: two invocations sharing one
    // instance would trip over each other.
    const dir = tempDir();
    const handlerPath = join(dir, 'busy-probe.mjs');
    writeFileSync(
      handlerPath,
      `let busy = false;
       export async function handler(event) {
         if (busy) globalThis.overlaps += 1;
         busy = true;
         await new Promise((r) => setTimeout(r, 30));
         busy = false;
         globalThis.delivered += event.Records.length;
       }`,
    );
    Object.assign(globalThis, { overlaps: 0, delivered: 0 });
    const platform = await start({
      ...quiet,
      dataDir: join(dir, 'state'),
      persist: false,
      handler: handlerPath,
      mapping: { batchSize: 10, maximumBatchingWindowMs: 0 },
    });
    await replay(platform, Array.from({ length: 200 }, (_, i) => ({ entity_id: `card_${i % 40}` })));
    await platform.poller.waitUntilIdle({ timeoutMs: 30_000 });
    const probe = globalThis as unknown as { overlaps: number; delivered: number };
    expect(probe.delivered).toBe(200);
    expect(probe.overlaps).toBe(0);
  });

  it('provisions the table and stream from the shared definitions, idempotently', async () => {
    const dataDir = tempDir();
    const first = await start({ ...quiet, dataDir, handler: async () => undefined });
    const { Table } = await first.clients.dynamodb.send(new DescribeTableCommand({ TableName: first.resources.tableName }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(first.resources).toMatchObject({ streamName: 'fathom-events', shardCount: 2, partitionKeyField: 'entity_id', ttlEnabled: false });
    await stop(first);

    const again = await start({ ...quiet, dataDir, handler: async () => undefined });
    expect(again.resources).toEqual({ ...first.resources, dlqUrl: again.resources.dlqUrl });
  });

  it('refuses a second platform on a data dir in use', async () => {
    const dataDir = tempDir();
    await start({ ...quiet, dataDir, persist: false, handler: async () => undefined });
    await expect(startLocalPlatform({ ...quiet, dataDir, persist: false, handler: async () => undefined })).rejects.toBeInstanceOf(ResourceError);
  });

  it('sends a batch the function keeps failing to the DLQ as an on-failure record', async () => {
    const platform = await start({
      ...quiet,
      dataDir: tempDir(),
      persist: false,
      mapping: { maximumRetryAttempts: 1, retryBackoffMs: 5, maximumBatchingWindowMs: 0 },
      handler: async (event) => {
        if (event.Records.some((r) => r.kinesis.partitionKey === 'card_poison')) throw new Error('poison');
      },
    });
    await replay(platform, [{ entity_id: 'card_ok' }, { entity_id: 'card_poison' }]);
    await platform.poller.waitUntilIdle({ timeoutMs: 10_000 });
    expect(await platform.dlqDepth()).toBe(1);
    const { Messages } = await platform.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: platform.resources.dlqUrl }));
    expect(JSON.parse(Messages![0]!.Body!)).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', functionArn: expect.stringMatching(/:function:fathom-feature-transform$/) },
      KinesisBatchInfo: { batchSize: 1, streamArn: expect.stringMatching(/:stream\/fathom-events$/) },
    });
  });

  it('runs the feature-transform handler: features for every event, malformed records dead-lettered, redelivery ignored', async () => {
    const platform = await start({ ...quiet, dataDir: tempDir(), persist: false });
    const events = workload(600);
    await replay(platform, events, malformedPayloads(7));
    await platform.poller.waitUntilIdle({ timeoutMs: 60_000 });

    const store = await summarizeOnlineStore(platform.clients.dynamodb, platform.resources.tableName);
    expect(store).toMatchObject({ applied: 600, duplicates: 0 });
    expect(store.cards).toBe(new Set(events.map((e) => e.entity_id)).size);
    expect(store.merchants).toBe(new Set(events.map((e) => e.merchant_id)).size);
    expect(await platform.dlqDepth()).toBe(7);
    expect(platform.poller.stats()).toMatchObject({ recordsSucceeded: 607, recordsDiscarded: 0, dlqSends: 0 });

    // A producer retry of each card's latest event: recognised by event id, not applied twice.
    // (The engine remembers ids for a horizon of event time, so a retry must be recent in event time.)
    const latest = new Map(events.map((e) => [e.entity_id, e]));
    await replay(platform, [...latest.values()]);
    await platform.poller.waitUntilIdle({ timeoutMs: 60_000 });
    expect(await summarizeOnlineStore(platform.clients.dynamodb, platform.resources.tableName)).toMatchObject({
      applied: 600,
      duplicates: latest.size,
    });
  });

  it('keeps state across a restart and resumes after the last processed record', async () => {
    const dataDir = tempDir();
    const first = await start({ ...quiet, dataDir });
    await replay(first, workload(200, 11), malformedPayloads(2));
    await first.poller.waitUntilIdle({ timeoutMs: 60_000 });
    await stop(first);

    // Same process, so the handler module is loaded afresh (a new cold start) for the new endpoints.
    const second = await start({ ...quiet, dataDir });
    await second.poller.waitUntilIdle({ timeoutMs: 60_000 });
    expect(second.poller.stats().invocations).toBe(0); // nothing re-read from the persisted stream
    expect(await summarizeOnlineStore(second.clients.dynamodb, second.resources.tableName)).toMatchObject({ applied: 200 });
    expect(await second.dlqDepth()).toBe(2);

    await replay(second, workload(300, 11).slice(200));
    await second.poller.waitUntilIdle({ timeoutMs: 60_000 });
    expect(await summarizeOnlineStore(second.clients.dynamodb, second.resources.tableName)).toMatchObject({ applied: 300, duplicates: 0 });
  });
});
