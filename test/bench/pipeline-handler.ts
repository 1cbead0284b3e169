// The handler path into dynalite beside raw BatchWriteItem of the same items to the same dynalite,
// both through clients configured alike; and the handler's own read and version-conditioned write
// of those items, each timed alone (`io_alone`), in units of the raw write's time; and, inside a
// dynalite of its own with no SDK or HTTP, the conditional write as the local shim runs it beside
// BatchWriteItem (`dynalite_alone`): the stand-in's own floor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { withoutCallLogging } from '../../lib/adapters/aws-clients';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import type { EntityWrite } from '../../lib/core/pipeline/ports';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { generateWorkload } from '../../lib/core/generator';
import { platformResources, ENV } from '../../lib/core/resources';
import { startStandIns } from '../../lib/local/stand-ins';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localAwsEnvironment, localClients } from '../../lib/local/aws-clients';
import { provision } from '../../lib/local/provision';
import { toStreamEvent, type ShardRecord } from '../../lib/local/kinesis-event';
import { dynaliteCall, runStatement, type DynamoCall } from '../../lib/local/dynamodb-statements';
import dynalite from 'dynalite';

type Handler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;

const BATCH = 500;
/** Untimed batches first, on both sides. */
const WARM = 4;

export async function handlerPathBench({ batches, log }: { batches: number; log: (s: string) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'fathom-bench-'));
  const standIns = await startStandIns({ dataDir: dir, persist: false });
  const clients = localClients(standIns.endpoints);
  // The raw side's client is configured as the handler's own (lib/adapters/aws-clients.ts): without
  // the SDK's per-call logger middleware, whose redacted copy of every input would otherwise walk
  // each item through its schema on the raw side alone.
  const rawClient = withoutCallLogging(new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: standIns.endpoints.dynamodb, maxAttempts: 8 }));
  try {
    const res = await provision(clients, platformResources('bench'));
    const raw = await provision(clients, platformResources('bench-raw'));
    Object.assign(process.env, localAwsEnvironment(standIns.endpoints), {
      [ENV.onlineStoreTable]: res.tableName,
      [ENV.dlqUrl]: res.dlqUrl,
      // EMF lines would interleave with the JSON result on stdout; the metrics' cost is small beside I/O.
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    const { handler } = (await import('../../lambdas/feature-transform/handler')) as { handler: Handler };

    const events = [...generateWorkload({ seed: 3, events: (WARM + batches) * BATCH, days: 7 })].map((g) => g.event);
    const source = { streamArn: res.streamArn, region: 'us-east-1', invokeIdentityArn: 'arn:aws:iam::000000000000:role/bench' };
    const kinesisEvents: KinesisStreamEvent[] = [];
    const entitiesPerBatch: string[][] = [];
    for (let b = 0; b < WARM + batches; b++) {
      const slice = events.slice(b * BATCH, (b + 1) * BATCH);
      const records: ShardRecord[] = slice.map((e, i) => ({
        shardId: 'shardId-000000000000',
        sequenceNumber: String(10n ** 20n + BigInt(b * BATCH + i)),
        partitionKey: e.entity_id,
        data: Buffer.from(JSON.stringify(e)),
        approximateArrivalTimestamp: Date.now(),
      }));
      kinesisEvents.push(toStreamEvent(records, source));
      entitiesPerBatch.push([...new Set([...slice.map((e) => `card#${e.entity_id}`), ...slice.map((e) => `merchant#${e.merchant_id}`)])]);
    }
    const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

    // The two sides interleave batch by batch: handler batch i (timed), then the items it left,
    // read back untimed, written raw (timed). A shared machine's slow spells then fall on both
    // sides alike; run one side after the other and the ratio swung by a quarter between runs.
    // The raw side is BatchWriteItem in chunks of 25, each batch's chunks in parallel as the
    // handler's puts are, into a second table of the same dynalite.
    // The first WARM batches of each side are untimed: each side would otherwise pay its own first
    // compilations (the handler's code, the SDK's, and dynalite's read, conditional-write and
    // batch-write paths).
    log(`handler path and raw BatchWriteItem, interleaved: ${WARM} warm-up batches, then ${batches} timed batches of ${BATCH}`);
    const readBack = async (pks: readonly string[]): Promise<Record<string, AttributeValue>[]> => {
      const out: Record<string, AttributeValue>[] = [];
      for (let i = 0; i < pks.length; i += 100) {
        let keys: Record<string, AttributeValue>[] = pks.slice(i, i + 100).map((pk) => ({ pk: { S: pk } }));
        while (keys.length > 0) {
          const got = await clients.dynamodb.send(new BatchGetItemCommand({ RequestItems: { [res.tableName]: { Keys: keys, ConsistentRead: true } } }));
          out.push(...(got.Responses?.[res.tableName] ?? []));
          keys = got.UnprocessedKeys?.[res.tableName]?.Keys ?? [];
        }
      }
      if (out.length !== pks.length) throw new Error(`read back ${out.length} of the ${pks.length} items the handler wrote`);
      return out;
    };
    const writeRaw = async (stored: readonly Record<string, AttributeValue>[]) => {
      await Promise.all(
        batchesOf25(stored).map(async (chunk) => {
          let req: Record<string, AttributeValue>[] = chunk;
          while (req.length > 0) {
            const out = await rawClient.send(new BatchWriteItemCommand({ RequestItems: { [raw.tableName]: req.map((Item) => ({ PutRequest: { Item } })) } }));
            req = (out.UnprocessedItems?.[raw.tableName] ?? []).map((r) => r.PutRequest!.Item!);
          }
        }),
      );
    };
    // The handler's two I/O steps alone, through the store adapter it uses (a client configured as
    // its own): the batch's entities read (getMany: BatchGetItem), and each item written again at
    // its next version, conditioned on the one it holds (put: BatchExecuteStatement UPDATEs). What
    // the handler spends beyond their sum is parsing, the engine, state serialisation and the
    // Lambda plumbing; their sum against the raw write bounds the ratio the handler can reach.
    const store = new DynamoOnlineStore({ client: rawClient, tableName: res.tableName });
    const rewrite = async (stored: readonly Record<string, AttributeValue>[]) => {
      const outcomes = await Promise.all(stored.map((item) => store.put(...nextVersion(item))));
      const conflicts = outcomes.filter((o) => o !== 'written').length;
      if (conflicts > 0) throw new Error(`${conflicts} of ${stored.length} rewrites met a version conflict; nothing else writes this table meanwhile`);
    };
    let failures = 0;
    let handlerMs = 0;
    let rawMs = 0;
    let readMs = 0;
    let writeMs = 0;
    let items = 0;
    // Each entity once (an entity recurs across batches, at later versions): its latest item.
    const sample = new Map<string, Record<string, AttributeValue>>();
    for (let b = 0; b < kinesisEvents.length; b++) {
      const timed = b >= WARM;
      let t = performance.now();
      failures += (await handler(kinesisEvents[b]!, context)).batchItemFailures.length;
      if (timed) handlerMs += performance.now() - t;
      const stored = await readBack(entitiesPerBatch[b]!);
      t = performance.now();
      await writeRaw(stored);
      if (timed) rawMs += performance.now() - t;
      t = performance.now();
      await store.getMany(entitiesPerBatch[b]!);
      if (timed) readMs += performance.now() - t;
      t = performance.now();
      await rewrite(stored);
      if (timed) {
        writeMs += performance.now() - t;
        items += stored.length;
        for (const item of stored) if (sample.size < FLOOR_ITEMS || sample.has(item['pk']!.S!)) sample.set(item['pk']!.S!, item);
      }
    }
    log(`dynalite alone: ${sample.size} of the entities' items, conditional UpdateItem as the shim runs a statement beside BatchWriteItem`);
    const floor = await dynaliteFloor([...sample.values()]);
    const handlerSeconds = handlerMs / 1000;
    const rawSeconds = rawMs / 1000;
    const handlerRate = Math.round(items / handlerSeconds);
    const rawRate = Math.round(items / rawSeconds);
    const out = {
      events: events.length - WARM * BATCH,
      warm_up_batches: WARM,
      batch_size: BATCH,
      items_written: items,
      failed_records: failures,
      handler_items_per_s: handlerRate,
      handler_events_per_s: Math.round((events.length - WARM * BATCH) / handlerSeconds),
      raw_batch_write_items_per_s: rawRate,
      ratio: Number((handlerRate / rawRate).toFixed(3)),
      goal_ratio: 0.5,
      meets_goal: handlerRate / rawRate >= 0.5,
      // The handler's own read and conditional write of the same items, each alone, in raw-write
      // time units: what the goal's 2 units must also hold parsing and the engine in.
      io_alone: {
        store_read_items_per_s: Math.round(items / (readMs / 1000)),
        store_conditional_write_items_per_s: Math.round(items / (writeMs / 1000)),
        read_in_raw_write_units: Number((readMs / rawMs).toFixed(3)),
        conditional_write_in_raw_write_units: Number((writeMs / rawMs).toFixed(3)),
        handler_in_raw_write_units: Number((handlerMs / rawMs).toFixed(3)),
      },
      dynalite_alone: floor,
    };
    log(JSON.stringify(out));
    return out;
  } finally {
    clients.destroy();
    rawClient.destroy();
    await standIns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A stored item as the write that puts it again at its next version, conditioned on the version it holds. */
function nextVersion(item: Record<string, AttributeValue>): [EntityWrite, number] {
  const u = unmarshall(item) as {
    pk: string;
    kind: EntityWrite['kind'];
    state: string;
    version: number;
    feature_set: string;
    features: Record<string, number>;
    as_of: number;
    stats?: EntityWrite['stats'];
    seq?: EntityWrite['seq'];
  };
  const write: EntityWrite = {
    pk: u.pk,
    kind: u.kind,
    state: u.state,
    version: u.version + 1,
    featureSet: u.feature_set,
    features: u.features,
    asOf: u.as_of,
    ...(u.stats ? { stats: u.stats } : {}),
    ...(u.seq ? { seq: u.seq } : {}),
  };
  return [write, u.version];
}

/** Items the dynalite floor writes, taken from the timed batches' own items. */
const FLOOR_ITEMS = 2000;

/**
 * The stand-in's floor, with no SDK, HTTP or body parse: `items` written inside a dynalite of its
 * own, 25 at a time, each as the local shim runs an UPDATE statement (runStatement: an UpdateItem
 * conditioned on the stored version), beside BatchWriteItem of the same 25. Rounds alternate the
 * two sides; the median round of each is reported, in µs per item and as a ratio.
 */
async function dynaliteFloor(items: readonly Record<string, AttributeValue>[]) {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // Listening (on a free loopback port, never called through it) so that close() closes its store.
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const call = dynaliteCall(server);
  const ok = async (reply: ReturnType<DynamoCall>) => {
    const r = await reply;
    if (r.status !== 200) throw new Error(`dynalite answered ${r.status}: ${r.body}`);
  };
  try {
    for (const table of ['floor-conditional', 'floor-batch']) {
      await ok(call('CreateTable', { TableName: table, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    }
    // dynalite turns a new table ACTIVE on a timer, even at createTableMs 0.
    for (const table of ['floor-conditional', 'floor-batch']) {
      for (let tries = 0; !(await call('DescribeTable', { TableName: table })).body.includes('"TableStatus":"ACTIVE"'); tries++) {
        if (tries === 100) throw new Error(`dynalite table ${table} never became ACTIVE`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    for (const Item of items) await ok(call('PutItem', { TableName: 'floor-conditional', Item }));
    const chunks = batchesOf25(items);
    const conditionalMs: number[] = [];
    const batchMs: number[] = [];
    for (let round = 0; round < 5; round++) {
      let t = performance.now();
      for (const chunk of chunks) {
        const answers = await Promise.all(
          chunk.map((item) => {
            const held = Number(item['version']!.N) + round;
            const set = Object.entries(item).filter(([name]) => name !== 'pk').map(([name, value]): [string, unknown] => [name, name === 'version' ? { N: String(held + 1) } : value]);
            return runStatement({ kind: 'update', table: 'floor-conditional', set, remove: [], where: [['pk', item['pk']], ['version', { N: String(held) }]] }, ['pk'], call);
          }),
        );
        const failed = answers.find((a) => 'Error' in a);
        if (failed) throw new Error(`a conditional update failed: ${JSON.stringify(failed)}`);
      }
      conditionalMs.push(performance.now() - t);
      t = performance.now();
      for (const chunk of chunks) await ok(call('BatchWriteItem', { RequestItems: { 'floor-batch': chunk.map((Item) => ({ PutRequest: { Item } })) } }));
      batchMs.push(performance.now() - t);
    }
    const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[ms.length >> 1]!;
    const perItem = (ms: number[]) => Math.round((median(ms) * 1000) / items.length);
    return {
      items: items.length,
      conditional_update_us_per_item: perItem(conditionalMs),
      batch_write_us_per_item: perItem(batchMs),
      conditional_update_in_batch_write_units: Number((median(conditionalMs) / median(batchMs)).toFixed(3)),
    };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `items` in runs of 25, BatchWriteItem's limit (and BatchExecuteStatement's). */
function batchesOf25<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += 25) out.push(items.slice(i, i + 25));
  return out;
}
