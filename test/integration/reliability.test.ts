// Reliability of the streaming pipeline against the stand-ins: 20,000 events through the local
// Kinesis, the real feature-transform handler and dynalite behind a proxy that throttles and
// steals versions on 5% of the handler's data-plane calls (some conflicts outlast the handler's
// attempts, so records are delivered again), with 0.5% malformed records and 2% duplicate
// deliveries mixed in. Every valid event must be reflected exactly once (the online store ends
// where the batch driver ends), every malformed record must be in the DLQ with its reason, and
// nothing else may be. The store is also compared at checkpoints along the way: merchant states
// keep about a day of tiles, so an error in older history would no longer show at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import { ResourceError } from '../../lib/core/errors';
import {
  FeatureEngine,
  deserializeCard,
  deserializeMerchant,
  referenceFeatureSet,
  runBatch,
  serializeCard,
  serializeMerchant,
} from '../../lib/core/features';
import { Rng, generateWorkload } from '../../lib/core/generator';
import { FEATURE_TRANSFORM_DEFAULTS } from '../../lib/core/resources';
import { parseStreamEvent, type Event, type TimedEvent } from '../../lib/core/schemas/event';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-clients';
import { startLocalPlatform, type LocalPlatform } from '../../lib/local/platform';
import { startFaultyDynamoProxy, type FaultyDynamoProxy } from '../support/faulty-dynamo-proxy';

const EVENTS = 20_000;
const MALFORMED = Math.round(EVENTS * 0.005); // 100
const DUPLICATES = Math.round(EVENTS * 0.02); // 400
const FAULT_RATE = 0.05;
/**
 * Of the injected conflicts, the share that outlasts the handler's five write attempts: those
 * records fail, and the event source mapping delivers them (and the rest of their batch) again.
 */
const PERSISTENT_CONFLICT_SHARE = 0.03;
/** The stream is drained and the store compared with the batch driver this many times. */
const CHECKPOINTS = 4;
/** The same lateness the platform gives its handler. */
const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: FEATURE_TRANSFORM_DEFAULTS.allowedLatenessSeconds * 1000 });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  // Newest first, each one even if an earlier one failed: the platform stops before its data dir goes.
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve().then(cleanup).catch((e: unknown) => errors.push(e));
  if (errors.length > 0) throw errors[0];
});

type Delivery =
  | { readonly kind: 'event' | 'duplicate'; readonly partitionKey: string; readonly data: string; readonly event: Event }
  | Malformed;

interface Malformed {
  readonly kind: 'malformed';
  readonly partitionKey: string;
  readonly data: string;
  /** The field the dead letter must name. */
  readonly field: string;
}

/** Ways a producer gets an event wrong, each built from a real event; the field the DLQ must name. */
const SPOILERS: readonly ((e: Event, id: string) => { data: string; field: string })[] = [
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id }).slice(0, 40), field: '(record)' }), // truncated: not JSON
  (e, id) => ({ data: `${id} is not json at all`, field: '(record)' }),
  (e, id) => ({ data: JSON.stringify([{ ...e, event_id: id }]), field: '(record)' }), // a JSON array
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, entity_id: undefined }), field: 'entity_id' }), // missing field
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, merchant_id: undefined }), field: 'merchant_id' }),
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, amount: 'ten' }), field: 'amount' }), // wrong type
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, mcc: '5411' }), field: 'mcc' }),
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, event_time: 'yesterday' }), field: 'event_time' }),
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, event_time: '2026-02-30T25:61:00Z' }), field: 'event_time' }),
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, channel: 'telepathy' }), field: 'channel' }), // unknown channel
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, amount: -5 }), field: 'amount' }),
  (e, id) => ({ data: JSON.stringify({ ...e, event_id: id, currency: 'usd' }), field: 'currency' }),
];

/**
 * The stream as delivered: every event in order; DUPLICATES distinct events delivered a second
 * time, one to eight deliveries after the original (the same card, so the same shard, well within
 * the allowed lateness and the dedupe horizon); MALFORMED bad payloads at random positions.
 */
function deliveries(events: readonly Event[], seed: number) {
  const rng = new Rng(seed);
  const duplicated = new Set<number>();
  while (duplicated.size < DUPLICATES) duplicated.add(rng.int(events.length));
  const list: Delivery[] = [];
  const due = new Map<number, Event[]>(); // list length at which a duplicate is sent again
  const later = (at: number, e: Event) => {
    const queue = due.get(at);
    if (queue) queue.push(e);
    else due.set(at, [e]);
  };
  const asDelivery = (e: Event, kind: 'event' | 'duplicate'): Delivery => ({ kind, partitionKey: e.entity_id, data: JSON.stringify(e), event: e });
  const sendDue = () => {
    const queue = due.get(list.length);
    if (!queue) return;
    due.delete(list.length);
    for (const e of queue) {
      list.push(asDelivery(e, 'duplicate'));
      sendDue();
    }
  };
  events.forEach((e, i) => {
    list.push(asDelivery(e, 'event'));
    if (duplicated.has(i)) later(list.length + rng.intBetween(0, 7), e);
    sendDue();
  });
  for (const [, queue] of [...due].sort((a, b) => a[0] - b[0])) list.push(...queue.map((e) => asDelivery(e, 'duplicate')));

  const malformed: Malformed[] = [];
  for (let i = 0; i < MALFORMED; i++) {
    const spoiled = SPOILERS[i % SPOILERS.length]!(events[rng.int(events.length)]!, `bad_${String(i + 1).padStart(4, '0')}`);
    const m: Malformed = { kind: 'malformed', partitionKey: `malformed-${i}`, ...spoiled };
    malformed.push(m);
    list.splice(rng.int(list.length + 1), 0, m);
  }
  return { list, malformed };
}

/** Puts the deliveries in order, 500 per PutRecords call; the local stream rejects nothing, so nothing is reordered. */
async function put(platform: LocalPlatform, list: readonly Delivery[]): Promise<void> {
  for (let i = 0; i < list.length; i += 500) {
    const Records: PutRecordsRequestEntry[] = list.slice(i, i + 500).map((d) => ({ PartitionKey: d.partitionKey, Data: Buffer.from(d.data) }));
    const out = await platform.clients.kinesis.send(new PutRecordsCommand({ StreamName: platform.resources.streamName, Records }));
    expect(out.FailedRecordCount ?? 0).toBe(0);
  }
}

interface StoredItem {
  readonly state: string;
  readonly stats: Record<string, number>;
}

async function scanStore(platform: LocalPlatform): Promise<Map<string, StoredItem>> {
  const items = new Map<string, StoredItem>();
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await platform.clients.dynamodb.send(
      new ScanCommand({
        TableName: platform.resources.tableName,
        ProjectionExpression: 'pk, #state, stats',
        ExpressionAttributeNames: { '#state': 'state' },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const stats = Object.fromEntries(Object.entries(item['stats']?.M ?? {}).map(([k, v]) => [k, Number(v.N)]));
      items.set(item['pk']!.S!, { state: item['state']!.S!, stats });
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Every message in the queue, each received once (a long visibility timeout keeps them from coming back). */
async function drainQueue(platform: LocalPlatform): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await platform.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: platform.resources.dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ''));
    await platform.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: platform.resources.dlqUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
}

async function startProxy(options: Parameters<typeof startFaultyDynamoProxy>[0]): Promise<FaultyDynamoProxy> {
  const proxy = await startFaultyDynamoProxy(options);
  cleanups.push(() => proxy.close());
  return proxy;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-reliability-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The online store against the batch driver over the valid events delivered so far. */
async function compareWithBatch(platform: LocalPlatform, delivered: readonly Delivery[]) {
  const valid: TimedEvent[] = [];
  let duplicates = 0;
  for (const d of delivered) {
    if (d.kind === 'duplicate') duplicates += 1;
    if (d.kind !== 'event') continue;
    const r = parseStreamEvent(d.event);
    if (!r.ok) throw r.error;
    valid.push(r.value);
  }
  const batch = runBatch(engine, valid);
  const items = await scanStore(platform);
  const cardItems = [...items].filter(([pk]) => pk.startsWith('card#'));
  const cardMismatches: string[] = [];
  for (const [id, expected] of batch.cards) {
    const stored = items.get(`card#${id}`);
    if (!stored) {
      cardMismatches.push(`${id} (missing)`);
      continue;
    }
    // The stream still holds the last few minutes of each card in its reorder buffer; a drained
    // stream's final watermark commits them, as the batch driver has.
    const state = deserializeCard(engine, stored.state);
    engine.flush(state);
    if (serializeCard(engine, state) !== serializeCard(engine, expected)) cardMismatches.push(id);
  }
  const merchantMismatches: string[] = [];
  for (const [id, expected] of batch.merchants) {
    const stored = items.get(`merchant#${id}`);
    if (!stored) merchantMismatches.push(`${id} (missing)`);
    else if (serializeMerchant(engine, deserializeMerchant(engine, stored.state)) !== serializeMerchant(engine, expected)) merchantMismatches.push(id);
  }
  const total = (name: string) => cardItems.reduce((n, [, item]) => n + (item.stats[name] ?? 0), 0);
  return {
    // Entity items only: `shard#…` items hold each shard's dead-letter checkpoint.
    items: { stored: [...items.keys()].filter((pk) => !pk.startsWith('shard#')).length, expected: batch.cards.size + batch.merchants.size },
    shardCheckpoints: [...items.keys()].filter((pk) => pk.startsWith('shard#')).length,
    cardMismatches,
    merchantMismatches,
    stats: {
      stored: { applied: total('applied'), duplicates: total('duplicates'), late: total('late'), too_late: total('too_late') },
      expected: { applied: valid.length, duplicates, late: 0, too_late: 0 },
    },
  };
}

describe('stream reliability', () => {
  it('the proxy fails calls the way DynamoDB does: the SDK retries its throttling, a stolen version is a real conflict', async () => {
    const db: Server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => db.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => db.close(() => resolve())));
    const dbUrl = `http://127.0.0.1:${(db.address() as AddressInfo).port}`;
    const client = (endpoint: string, maxAttempts: number) => {
      const c = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint, maxAttempts });
      cleanups.push(() => c.destroy());
      return c;
    };
    const direct = client(dbUrl, 1);
    await direct.send(
      new CreateTableCommand({
        TableName: 'items',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await direct.send(new PutItemCommand({ TableName: 'items', Item: { pk: { S: 'card#1' }, kind: { S: 'card' }, state: { S: '{}' }, version: { N: '1' } } }));

    // Every call throttled: the SDK classifies it as throttling and retries it up to maxAttempts.
    const throttling = await startProxy({ upstream: dbUrl, seed: 1, faultRate: 1, conflictShare: 0 });
    const error = await client(throttling.url, 3)
      .send(new GetItemCommand({ TableName: 'items', Key: { pk: { S: 'card#1' } } }))
      .catch((e: unknown) => e as { name: string; $metadata: { attempts?: number; httpStatusCode?: number } });
    expect(error).toMatchObject({ name: 'ProvisionedThroughputExceededException', $metadata: { attempts: 3, httpStatusCode: 400 } });
    expect(throttling.stats()).toMatchObject({ throttles: 3, requests: { GetItem: 3 } });
    // Past the SDK's retries, the online store reports it as a retryable resource error.
    const store = new DynamoOnlineStore({ client: client(throttling.url, 1), tableName: 'items' });
    const wrapped = await store.get('card#1').catch((e: unknown) => e);
    expect(wrapped).toBeInstanceOf(ResourceError);
    expect(wrapped).toMatchObject({ retryable: true });

    // Every conditional put of an existing item loses its version to "another writer".
    const stealing = await startProxy({ upstream: dbUrl, seed: 1, faultRate: 1, conflictShare: 1 });
    const viaProxy = new DynamoOnlineStore({ client: client(stealing.url, 1), tableName: 'items' });
    const write = { pk: 'card#1', kind: 'card' as const, state: '{"x":1}', version: 2, featureSet: 'fs', features: {}, asOf: 0 };
    expect(await viaProxy.put(write, 1)).toBe('conflict');
    const { Item } = await direct.send(new GetItemCommand({ TableName: 'items', Key: { pk: { S: 'card#1' } }, ConsistentRead: true }));
    expect(Item).toMatchObject({ version: { N: '2' }, state: { S: '{}' } }); // moved, not overwritten
    expect(stealing.stats()).toMatchObject({ conflicts: 1, conflictMisses: 0, throttles: 0 });
  });

  it(
    `reflects each of ${EVENTS.toLocaleString('en-US')} events exactly once through throttling, version conflicts, malformed records and duplicates`,
    async () => {
      const t0 = performance.now();
      const events = [...generateWorkload({ seed: 11, events: EVENTS, days: 10 })].map((g) => g.event);
      const { list, malformed } = deliveries(events, 2026);
      expect(list).toHaveLength(EVENTS + DUPLICATES + MALFORMED);

      const proxy = await startProxy({ seed: 11, faultRate: FAULT_RATE, persistentConflictShare: PERSISTENT_CONFLICT_SHARE });
      const logs: string[] = [];
      const platform = await startLocalPlatform({
        dataDir: tempDir(),
        persist: false,
        quietFunction: true,
        log: (message) => logs.push(message),
        handlerEndpoints: { dynamodb: proxy.url },
      });
      cleanups.push(() => platform.stop());
      // The handler was loaded pointing at the proxy; the proxy now learns where dynalite is.
      expect(platform.handlerEnvironment['AWS_ENDPOINT_URL_DYNAMODB']).toBe(proxy.url);
      proxy.setUpstream(platform.endpoints.dynamodb);
      const setupSeconds = (performance.now() - t0) / 1000;

      // Put a quarter of the stream, let it drain, compare; four times.
      let streamSeconds = 0;
      let checkSeconds = 0;
      let compared: Awaited<ReturnType<typeof compareWithBatch>> | undefined;
      for (let k = 1; k <= CHECKPOINTS; k++) {
        const from = Math.round(((k - 1) * list.length) / CHECKPOINTS);
        const to = Math.round((k * list.length) / CHECKPOINTS);
        const t1 = performance.now();
        await put(platform, list.slice(from, to));
        await platform.poller.waitUntilIdle({ timeoutMs: 200_000 });
        const t2 = performance.now();
        compared = await compareWithBatch(platform, list.slice(0, to));
        checkSeconds += (performance.now() - t2) / 1000;
        streamSeconds += (t2 - t1) / 1000;
        const at = `checkpoint ${k}/${CHECKPOINTS} (${to} deliveries)`;
        expect.soft(compared.items.stored, `${at}: items in the store`).toBe(compared.items.expected);
        expect.soft(compared.shardCheckpoints, `${at}: one dead-letter checkpoint per shard`).toBe(platform.resources.shardCount);
        expect.soft(compared.cardMismatches, `${at}: cards whose state differs from the batch driver`).toEqual([]);
        expect.soft(compared.merchantMismatches, `${at}: merchants whose state differs from the batch driver`).toEqual([]);
        expect.soft(compared.stats.stored, `${at}: Σ card stats`).toEqual(compared.stats.expected);
      }
      proxy.disable();
      // At the end: every event once, every duplicate delivery recognised.
      expect(compared?.stats.expected).toEqual({ applied: EVENTS, duplicates: DUPLICATES, late: 0, too_late: 0 });

      const letters = (await drainQueue(platform)).map((b) => JSON.parse(b) as Record<string, unknown>);
      const poller = platform.poller.stats();
      const faults = proxy.stats();
      const injected = faults.throttles + faults.conflicts;
      console.info(
        JSON.stringify({
          reliability: {
            deliveries: list.length,
            seconds: { setup: +setupSeconds.toFixed(1), stream: +streamSeconds.toFixed(1), check: +checkSeconds.toFixed(1) },
            faults,
            faultRate: +(injected / faults.dataPlaneCalls).toFixed(4),
            poller: { ...poller, shards: undefined },
            dlqMessages: letters.length,
            logLines: logs.length,
          },
        }),
      );

      // The DLQ: one dead letter per malformed record, with its reason and field, and nothing else.
      const expected = new Map(malformed.map((m) => [m.data, m]));
      expect(expected.size).toBe(MALFORMED);
      expect.soft(letters.filter((l) => l['requestContext'] !== undefined), 'on-failure records').toEqual([]);
      expect.soft(letters.filter((l) => !expected.has(String(l['data']))), 'dead letters of no malformed record').toEqual([]);
      const byData = new Map<string, Record<string, unknown>[]>();
      for (const l of letters) byData.set(String(l['data']), [...(byData.get(String(l['data'])) ?? []), l]);
      expect.soft(malformed.filter((m) => !byData.has(m.data)).map((m) => m.data), 'malformed records missing from the DLQ').toEqual([]);
      const repeated = [...byData].filter(([, ls]) => ls.length > 1).map(([data, ls]) => ({ data, times: ls.length, record_ids: ls.map((l) => l['record_id']) }));
      expect.soft(repeated, 'malformed records dead-lettered more than once').toEqual([]);
      for (const m of malformed) {
        const letter = byData.get(m.data)?.[0];
        if (!letter) continue;
        expect.soft(letter).toMatchObject({ source: 'feature-transform', field: m.field, data: m.data, data_truncated: false });
        expect.soft(String(letter['reason'])).not.toBe('');
      }
      expect.soft(letters.length, 'DLQ messages').toBe(MALFORMED);

      // Nothing was discarded by the event source mapping, and some records were delivered again.
      expect.soft(poller).toMatchObject({ recordsDiscarded: 0, dlqSends: 0, dlqSendFailures: 0, recordsBuffered: 0, recordsSucceeded: list.length });
      expect.soft(poller.partialFailures, 'partial failures (redelivery)').toBeGreaterThan(0);
      expect.soft(poller.recordsDelivered, 'records delivered, retries included').toBeGreaterThan(list.length);

      // The faults were real, and about as many as asked for.
      expect.soft(faults.throttles).toBeGreaterThan(0);
      expect.soft(faults.conflicts).toBeGreaterThan(0);
      expect.soft(faults.persistentConflicts).toBeGreaterThan(0);
      expect.soft(faults.conflictMisses).toBe(0);
      expect.soft(injected / faults.dataPlaneCalls, 'share of data-plane calls failed').toBeGreaterThan(FAULT_RATE * 0.7);
      expect.soft(injected / faults.dataPlaneCalls, 'share of data-plane calls failed').toBeLessThan(FAULT_RATE * 1.3);
      // Each stolen version sent the handler back to read the item again.
      expect.soft(faults.requests['GetItem'] ?? 0).toBeGreaterThanOrEqual(faults.conflicts);
    },
    240_000,
  );
});
