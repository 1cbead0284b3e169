// The online store's batched conditional writes against the local stand-ins: puts of one turn of
// the event loop share BatchExecuteStatement calls of up to 25 statements, each statement still
// conditioned on its own item (INSERT of a new item, UPDATE of the version read), and the item
// written is the one a version-conditioned PutItem wrote before.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchExecuteStatementCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  type AttributeValue,
  type BatchExecuteStatementCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoOnlineStore } from '../../lib/adapters/online-store';
import { ResourceError } from '../../lib/core/errors';
import type { EntityWrite } from '../../lib/core/pipeline/ports';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClients, type LocalClients } from '../../lib/local/aws-clients';
import { startStandIns, type StandIns } from '../../lib/local/stand-ins';
import { startFaultyDynamoProxy, type FaultyDynamoProxy } from '../support/faulty-dynamo-proxy';

const TABLE = 'online-store-batch';
const NOW = Date.parse('2026-03-02T12:00:00.000Z');
const TTL_DAYS = 45;

let dir: string;
let standIns: StandIns;
let clients: LocalClients;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fathom-online-store-'));
  standIns = await startStandIns({ dataDir: dir, persist: false });
  clients = localClients(standIns.endpoints);
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  clients?.destroy();
  await standIns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A store on its own client, and the sizes of the BatchExecuteStatement calls it makes. */
function storeWithCalls(endpoint = standIns.endpoints.dynamodb, options: { maxWriteAttempts?: number } = {}) {
  const client = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint, maxAttempts: 1 });
  cleanups.push(() => client.destroy());
  const calls: number[] = [];
  const send = client.send.bind(client);
  vi.spyOn(client, 'send').mockImplementation(((command: unknown, ...rest: unknown[]) => {
    if (command instanceof BatchExecuteStatementCommand) calls.push(command.input.Statements?.length ?? 0);
    return (send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
  }) as typeof client.send);
  const store = new DynamoOnlineStore({ client, tableName: TABLE, ttlDays: TTL_DAYS, now: () => NOW, ...options });
  return { store, calls, client };
}

const write = (pk: string, version: number, extra: Partial<EntityWrite> = {}): EntityWrite => ({
  pk,
  kind: 'card',
  state: `{"v":${version}}`,
  version,
  featureSet: 'fs-1',
  features: { txn_count_1h: version, amount_mean_24h: 12.5 },
  asOf: NOW - 1000,
  ...extra,
});

/** The item a version-conditioned PutItem of `w` wrote (the adapter before BatchExecuteStatement). */
function putItemOf(w: EntityWrite): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    pk: { S: w.pk },
    kind: { S: w.kind },
    state: { S: w.state },
    version: { N: String(w.version) },
    feature_set: { S: w.featureSet },
    features: { M: Object.fromEntries(Object.entries(w.features).map(([k, v]) => [k, { N: String(v) }])) },
    as_of: { N: String(w.asOf) },
    updated_at: { S: new Date(NOW).toISOString() },
    expires_at: { N: String(Math.floor(NOW / 1000) + TTL_DAYS * 86_400) },
  };
  if (w.stats) item['stats'] = { M: Object.fromEntries(Object.entries(w.stats).map(([k, v]) => [k, { N: String(v) }])) };
  if (w.seq) item['seq'] = { M: Object.fromEntries(Object.entries(w.seq).map(([k, v]) => [k, { S: v }])) };
  return item;
}

async function stored(pk: string): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await clients.dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true }));
  return Item;
}

describe('DynamoOnlineStore batched conditional writes', () => {
  it('coalesces the puts of one turn into ceil(n/25) BatchExecuteStatement calls, each item written as PutItem wrote it', async () => {
    const { store, calls } = storeWithCalls();
    const writes = Array.from({ length: 60 }, (_, i) => write(`card#coalesce-${i}`, 1, { stats: { applied: i, duplicates: 0, late: 0, too_late: 0 }, seq: { 'shardId-0': String(100 + i) } }));
    const outcomes = await Promise.all(writes.map((w) => store.put(w, null)));
    expect(outcomes).toEqual(writes.map(() => 'written'));
    expect(calls).toEqual([25, 25, 10]);
    for (const w of [writes[0]!, writes[59]!]) expect(await stored(w.pk)).toEqual(putItemOf(w));

    // The next version of all 60, as UPDATEs: again three calls.
    calls.length = 0;
    const next = writes.map((w) => ({ ...w, version: 2, state: '{"v":2}' }));
    expect(await Promise.all(next.map((w) => store.put(w, 1)))).toEqual(next.map(() => 'written'));
    expect(calls).toEqual([25, 25, 10]);
    expect(await stored(next[7]!.pk)).toEqual(putItemOf(next[7]!));
  });

  it('an UPDATE leaves the item PutItem would have: every attribute replaced, stats and seq removed when the write lacks them', async () => {
    const { store } = storeWithCalls();
    const first = write('card#replace', 1, { stats: { applied: 3, duplicates: 1, late: 0, too_late: 0 }, seq: { 'shardId-0': '42' }, features: { a: 1, b: 2 } });
    expect(await store.put(first, null)).toBe('written');
    expect(await stored(first.pk)).toEqual(putItemOf(first));

    // A shard-checkpoint-like write: no stats, an empty feature map, a different seq.
    const second = write('card#replace', 2, { kind: 'shard', state: '{}', features: {}, seq: { 'shardId-1': '7' } });
    expect(await store.put(second, 1)).toBe('written');
    expect(await stored(second.pk)).toEqual(putItemOf(second));

    const third = write('card#replace', 3);
    expect(await store.put(third, 2)).toBe('written');
    const item = await stored(third.pk);
    expect(item).toEqual(putItemOf(third));
    expect(item).not.toHaveProperty('stats');
    expect(item).not.toHaveProperty('seq');
  });

  it('an INSERT of an existing item is a conflict, and leaves it as it was', async () => {
    const { store } = storeWithCalls();
    const original = write('card#insert-twice', 1);
    expect(await store.put(original, null)).toBe('written');
    expect(await store.put(write('card#insert-twice', 1, { state: '{"other":true}' }), null)).toBe('conflict');
    expect(await stored(original.pk)).toEqual(putItemOf(original));
  });

  it('an UPDATE at a stale version, or of an item that is gone, is a conflict that changes nothing', async () => {
    const { store } = storeWithCalls();
    const v1 = write('card#stale', 1);
    const v2 = write('card#stale', 2);
    expect(await store.put(v1, null)).toBe('written');
    expect(await store.put(v2, 1)).toBe('written');
    // A writer that read version 1 lost the race.
    expect(await store.put(write('card#stale', 2, { state: '{"lost":true}' }), 1)).toBe('conflict');
    expect(await stored(v2.pk)).toEqual(putItemOf(v2));
    // UPDATE never creates an item.
    expect(await store.put(write('card#never-written', 5), 4)).toBe('conflict');
    expect(await stored('card#never-written')).toBeUndefined();
  });

  it('outcomes are per statement: a conflict in a call does not stop the others in it', async () => {
    const { store, calls } = storeWithCalls();
    expect(await store.put(write('card#mixed-existing', 1), null)).toBe('written');
    calls.length = 0;
    const outcomes = await Promise.all([
      store.put(write('card#mixed-a', 1), null),
      store.put(write('card#mixed-existing', 2), 7), // stale
      store.put(write('card#mixed-b', 1), null),
      store.put(write('card#mixed-existing', 1), null), // exists: and in a call of its own, as an item appears once per call
    ]);
    expect(outcomes).toEqual(['written', 'conflict', 'written', 'conflict']);
    expect(calls).toEqual([3, 1]);
    expect(await stored('card#mixed-a')).toEqual(putItemOf(write('card#mixed-a', 1)));
  });

  it('retries statements that fail with a retryable error, alone or with later writes, until they land', async () => {
    const proxy: FaultyDynamoProxy = await startFaultyDynamoProxy({ upstream: standIns.endpoints.dynamodb, seed: 7, faultRate: 0.3, conflictShare: 0 });
    cleanups.push(() => proxy.close());
    const { store, calls } = storeWithCalls(proxy.url);
    const writes = Array.from({ length: 40 }, (_, i) => write(`card#retried-${i}`, 1));
    expect(await Promise.all(writes.map((w) => store.put(w, null)))).toEqual(writes.map(() => 'written'));
    const { throttles } = proxy.stats();
    expect(throttles).toBeGreaterThan(0);
    // Each throttled statement went out again: more statements sent than writes.
    expect(calls.reduce((a, b) => a + b, 0)).toBe(writes.length + throttles);
    for (const w of writes.slice(0, 5)) expect(await stored(w.pk)).toEqual(putItemOf(w));
  });

  it('gives up on a statement that stays throttled with a retryable ResourceError naming the item', async () => {
    const proxy = await startFaultyDynamoProxy({ upstream: standIns.endpoints.dynamodb, seed: 1, faultRate: 1, conflictShare: 0 });
    cleanups.push(() => proxy.close());
    const { store, calls } = storeWithCalls(proxy.url, { maxWriteAttempts: 3 });
    const error = await store.put(write('card#always-throttled', 1), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceError);
    expect(error).toMatchObject({ retryable: true, resource: `${TABLE}/card#always-throttled` });
    expect((error as Error).message).toMatch(/ProvisionedThroughputExceeded/);
    expect(calls).toEqual([1, 1, 1]);
  });

  it('a whole call that fails fails each of its writes with the same ResourceError', async () => {
    const { store, client } = storeWithCalls();
    client.middlewareStack.add(
      () => async () => {
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      },
      { step: 'build', name: 'throttleEverything' },
    );
    const results = await Promise.all([store.put(write('card#call-a', 1), null).catch((e: unknown) => e), store.put(write('card#call-b', 1), null).catch((e: unknown) => e)]);
    expect(results[0]).toBeInstanceOf(ResourceError);
    expect(results[0]).toMatchObject({ resource: TABLE, retryable: true });
    expect(results[1]).toBe(results[0]);
  });

  it('a missing table fails the write with a non-retryable ResourceError', async () => {
    const client = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: standIns.endpoints.dynamodb, maxAttempts: 1 });
    cleanups.push(() => client.destroy());
    const store = new DynamoOnlineStore({ client, tableName: 'no-such-table' });
    const error = await store.put(write('card#x', 1), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceError);
    expect(error).toMatchObject({ retryable: false, resource: 'no-such-table/card#x' });
    expect((error as Error).message).toMatch(/ResourceNotFound/);
  });
});

describe('the stand-in BatchExecuteStatement', () => {
  const run = (Statements: { Statement: string; Parameters?: AttributeValue[] }[]): Promise<BatchExecuteStatementCommandOutput> =>
    clients.dynamodb.send(new BatchExecuteStatementCommand({ Statements }));

  it('answers a statement it does not support with that statement’s ValidationError, running the others', async () => {
    const out = await run([
      { Statement: `SELECT * FROM "${TABLE}" WHERE "pk"=?`, Parameters: [{ S: 'card#x' }] },
      { Statement: `INSERT INTO "${TABLE}" VALUE {'pk': ?, 'n': ?}`, Parameters: [{ S: 'card#plain-insert' }, { N: '1' }] },
      { Statement: `INSERT INTO "${TABLE}" VALUE {'pk': ?, 'n': ?}`, Parameters: [{ S: 'card#too-few' }] },
      { Statement: `UPDATE "${TABLE}" SET "n"=? WHERE "n"=?`, Parameters: [{ N: '2' }, { N: '1' }] },
    ]);
    expect(out.Responses?.[0]?.Error).toMatchObject({ Code: 'ValidationError', Message: expect.stringMatching(/runs only INSERT .* and UPDATE/) });
    expect(out.Responses?.[1]).toEqual({ TableName: TABLE });
    expect(out.Responses?.[2]?.Error).toMatchObject({ Code: 'ValidationError', Message: expect.stringMatching(/Number of parameters/) });
    expect(out.Responses?.[3]?.Error).toMatchObject({ Code: 'ValidationError', Message: expect.stringMatching(/key attributes/) });
    expect(await stored('card#plain-insert')).toEqual({ pk: { S: 'card#plain-insert' }, n: { N: '1' } });
  });

  it('reads a table’s key schema once, and again after the table is deleted and created with another key', async () => {
    const table = 'rekeyed';
    const create = (key: string) =>
      clients.dynamodb.send(
        new CreateTableCommand({ TableName: table, KeySchema: [{ AttributeName: key, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
      );
    const insertThenUpdate = async (key: string) => {
      const out = await run([{ Statement: `INSERT INTO "${table}" VALUE {'${key}': ?, 'n': ?}`, Parameters: [{ S: 'a' }, { N: '1' }] }]);
      expect(out.Responses?.[0]).toEqual({ TableName: table });
      return run([{ Statement: `UPDATE "${table}" SET "n"=? WHERE "${key}"=?`, Parameters: [{ N: '2' }, { S: 'a' }] }]);
    };
    await create('pk');
    expect((await insertThenUpdate('pk')).Responses?.[0]).toEqual({ TableName: table });
    await clients.dynamodb.send(new DeleteTableCommand({ TableName: table }));
    await create('id');
    // Answered from a schema kept since the first table, the UPDATE would lack its key ("pk").
    expect((await insertThenUpdate('id')).Responses?.[0]).toEqual({ TableName: table });
    const item = await clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'a' } }, ConsistentRead: true }));
    expect(item.Item).toEqual({ id: { S: 'a' }, n: { N: '2' } });
    await clients.dynamodb.send(new DeleteTableCommand({ TableName: table }));
  });

  it('refuses a call of more than 25 statements whole, as DynamoDB does', async () => {
    const Statements = Array.from({ length: 26 }, (_, i) => ({ Statement: `INSERT INTO "${TABLE}" VALUE {'pk': ?}`, Parameters: [{ S: `card#26-${i}` }] }));
    await expect(run(Statements)).rejects.toMatchObject({ name: 'ValidationException' });
    expect(await stored('card#26-0')).toBeUndefined();
  });
});
