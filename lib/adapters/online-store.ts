// The online store on DynamoDB: one item per entity (card or merchant) holding its engine state,
// its current feature vector and a version that every write is conditioned on.
//
// Writes go out in batches: the puts issued in one turn of the event loop (a feature batch writes
// all its merchants, then all its cards, at once) share BatchExecuteStatement calls of up to 25
// PartiQL statements, each still conditioned on its own item's version. BatchExecuteStatement
// rather than TransactWriteItems: every statement succeeds or fails on its own, which is what the
// pipeline wants (one item's conflict must not undo the others, nor a hot merchant's conflict its
// batch-mates), at 1× WCU per item instead of a transaction's 2×. One PutItem per item cost an SDK
// request each, most of the handler's time.
import {
  BatchExecuteStatementCommand,
  BatchGetItemCommand,
  GetItemCommand,
  type AttributeValue,
  type BatchStatementRequest,
  type BatchStatementResponse,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ResourceError } from '../core/errors';
import type { CardStats, EntityKind, EntityWrite, OnlineStorePort, PutOutcome, StoredEntity } from '../core/pipeline/ports';

export interface OnlineStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Items untouched this long are expired by DynamoDB TTL. Default 45 days. */
  readonly ttlDays?: number;
  /** Rounds of UnprocessedKeys retries before giving up. Default 8. */
  readonly maxBatchGetRounds?: number;
  /** Tries of a write whose statement keeps failing with a retryable error (throttling and the like). Default 8. */
  readonly maxWriteAttempts?: number;
  readonly now?: () => number;
}

const BATCH_GET_LIMIT = 100;
/** Statements per BatchExecuteStatement call, DynamoDB's limit. */
const BATCH_WRITE_LIMIT = 25;
const PROJECTION = 'pk, kind, #state, version, stats, seq';
/** What PutItem wrote besides the key, in statement order; the optional ones last. */
const ATTRIBUTES = ['kind', 'state', 'version', 'feature_set', 'features', 'as_of', 'updated_at', 'expires_at'] as const;
const OPTIONAL_ATTRIBUTES = ['stats', 'seq'] as const;
/** A statement's error codes that mean its condition failed: the item is not at the version read. */
const CONFLICT_CODES = new Set(['ConditionalCheckFailed', 'DuplicateItem']);
/** Per-statement error codes of a transient state, which a later try may not meet. */
const RETRYABLE_CODES = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded', 'InternalServerError', 'TransactionConflict']);

/** A put waiting for its statement's outcome. */
interface PendingWrite {
  readonly pk: string;
  readonly statement: BatchStatementRequest;
  tries: number;
  resolve(outcome: PutOutcome): void;
  reject(error: ResourceError): void;
}

export class DynamoOnlineStore implements OnlineStorePort {
  private readonly ttlSeconds: number;
  private readonly now: () => number;
  /** The next BatchExecuteStatement call's writes, at most one per item, and their keys. */
  private open: PendingWrite[] = [];
  private openKeys = new Set<string>();
  private flushScheduled = false;
  /** The statement texts by shape (insert or update, with stats, with seq): eight at most, built once each. */
  private readonly statements: (string | undefined)[] = [];

  constructor(private readonly options: OnlineStoreOptions) {
    this.ttlSeconds = Math.round((options.ttlDays ?? 45) * 86_400);
    this.now = options.now ?? Date.now;
  }

  async getMany(pks: readonly string[]): Promise<Map<string, StoredEntity>> {
    const out = new Map<string, StoredEntity>();
    const unique = [...new Set(pks)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) chunks.push(unique.slice(i, i + BATCH_GET_LIMIT));
    await Promise.all(chunks.map((chunk) => this.getChunk(chunk, out)));
    return out;
  }

  private async getChunk(pks: string[], out: Map<string, StoredEntity>): Promise<void> {
    const table = this.options.tableName;
    let keys: Record<string, AttributeValue>[] = pks.map((pk) => ({ pk: { S: pk } }));
    const rounds = this.options.maxBatchGetRounds ?? 8;
    for (let round = 0; keys.length > 0; round++) {
      if (round >= rounds) throw new ResourceError(`${table}: ${keys.length} keys still unprocessed after ${rounds} BatchGetItem rounds`, table, true);
      if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round) * (0.5 + Math.random() / 2));
      const res = await this.call(() =>
        this.options.client.send(
          new BatchGetItemCommand({
            RequestItems: { [table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: PROJECTION, ExpressionAttributeNames: { '#state': 'state' } } },
          }),
        ),
      );
      for (const item of res.Responses?.[table] ?? []) {
        const e = fromItem(item, table);
        out.set(e.pk, e);
      }
      keys = res.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }

  async get(pk: string): Promise<StoredEntity | undefined> {
    const table = this.options.tableName;
    const res = await this.call(() =>
      this.options.client.send(
        new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true, ProjectionExpression: PROJECTION, ExpressionAttributeNames: { '#state': 'state' } }),
      ),
    );
    return res.Item ? fromItem(res.Item, table) : undefined;
  }

  /**
   * Writes the item if it is still at `expectedVersion` (null: it must not exist). The result is
   * the item PutItem would have written: a new item is an INSERT (which fails on an existing key),
   * an existing one an UPDATE of every attribute, removing the optional ones this write lacks.
   */
  put(item: EntityWrite, expectedVersion: number | null): Promise<PutOutcome> {
    const now = this.now();
    const pk: AttributeValue = { S: item.pk };
    // In ATTRIBUTES' order, then the optional ones present: the order statementText names them in.
    const values: AttributeValue[] = [
      { S: item.kind },
      { S: item.state },
      { N: String(item.version) },
      { S: item.featureSet },
      { M: numberMap(item.features) },
      { N: String(item.asOf) },
      { S: new Date(now).toISOString() },
      { N: String(Math.floor(now / 1000) + this.ttlSeconds) },
    ];
    if (item.stats) values.push({ M: numberMap(item.stats) });
    if (item.seq) values.push({ M: stringMap(item.seq) });
    const insert = expectedVersion === null;
    const shape = (insert ? 4 : 0) + (item.stats ? 2 : 0) + (item.seq ? 1 : 0);
    const Statement = (this.statements[shape] ??= statementText(this.options.tableName, insert, Boolean(item.stats), Boolean(item.seq)));
    const statement: BatchStatementRequest = insert ? { Statement, Parameters: [pk, ...values] } : { Statement, Parameters: [...values, pk, { N: String(expectedVersion) }] };
    return new Promise((resolve, reject) => this.enqueue({ pk: item.pk, statement, tries: 0, resolve, reject }));
  }

  /**
   * Adds a write to the next call, which goes out when it holds 25 or at the end of this turn of
   * the event loop (setImmediate: after the promise continuations that may add more). A second
   * write of an item already in it sends it first: a call names each item once.
   */
  private enqueue(write: PendingWrite): void {
    if (this.openKeys.has(write.pk)) this.flush();
    this.open.push(write);
    this.openKeys.add(write.pk);
    if (this.open.length >= BATCH_WRITE_LIMIT) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.open.length === 0) return;
    const writes = this.open;
    this.open = [];
    this.openKeys = new Set();
    void this.execute(writes);
  }

  /** One call; each write settles on its own statement's outcome. Never rejects. */
  private async execute(writes: PendingWrite[]): Promise<void> {
    let responses: BatchStatementResponse[];
    try {
      const out = await this.options.client.send(new BatchExecuteStatementCommand({ Statements: writes.map((w) => w.statement) }));
      responses = out.Responses ?? [];
    } catch (e) {
      // The whole call failed (after the SDK's own retries): every write in it fails alike.
      const error = this.wrap(e);
      for (const w of writes) w.reject(error);
      return;
    }
    writes.forEach((w, i) => this.settle(w, responses[i]));
  }

  private settle(write: PendingWrite, response: BatchStatementResponse | undefined): void {
    const table = this.options.tableName;
    if (!response) {
      write.reject(new ResourceError(`${table}: BatchExecuteStatement answered no response for the write of ${write.pk}`, `${table}/${write.pk}`, true));
      return;
    }
    if (!response.Error) return write.resolve('written');
    const code = response.Error.Code ?? 'Unknown';
    if (CONFLICT_CODES.has(code)) return write.resolve('conflict');
    const retryable = RETRYABLE_CODES.has(code);
    write.tries += 1;
    const maxTries = this.options.maxWriteAttempts ?? 8;
    if (retryable && write.tries < maxTries) {
      // Backed off, then into whichever call is open then: retries coalesce too.
      void sleep(Math.min(1000, 25 * 2 ** write.tries) * (0.5 + Math.random() / 2)).then(() => this.enqueue(write));
      return;
    }
    const after = retryable ? ` after ${write.tries} tries` : '';
    write.reject(new ResourceError(`${table}: write of ${write.pk} failed${after}: ${code}: ${response.Error.Message ?? ''}`, `${table}/${write.pk}`, retryable));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.wrap(e);
    }
  }

  private wrap(e: unknown): ResourceError {
    const err = e as { name?: string; message?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode ?? 0;
    const retryable = Boolean(err.$retryable) || status >= 500 || /Throttl|ProvisionedThroughput|RequestLimit/.test(err.name ?? '');
    return new ResourceError(`${this.options.tableName}: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`, this.options.tableName, retryable);
  }
}

/**
 * The statement for a write: a new item is an INSERT (which fails on an existing key), an existing
 * one an UPDATE of every attribute, removing the optional ones the write lacks. Every name quoted,
 * so none can collide with a reserved word (`state` is one). Parameters follow the names' order:
 * an INSERT's key first, an UPDATE's key and expected version last.
 */
function statementText(tableName: string, insert: boolean, stats: boolean, seq: boolean): string {
  const table = `"${tableName}"`;
  const has = { stats, seq };
  const present = [...ATTRIBUTES, ...OPTIONAL_ATTRIBUTES.filter((name) => has[name])];
  if (insert) return `INSERT INTO ${table} VALUE {'pk': ?, ${present.map((name) => `'${name}': ?`).join(', ')}}`;
  return [
    `UPDATE ${table}`,
    ...present.map((name) => `SET "${name}"=?`),
    ...OPTIONAL_ATTRIBUTES.filter((name) => !has[name]).map((name) => `REMOVE "${name}"`),
    'WHERE "pk"=? AND "version"=?',
  ].join(' ');
}

function numberMap<K extends string>(values: Readonly<Record<K, number>>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const k in values) out[k] = { N: String(values[k]) };
  return out;
}

function stringMap(values: Readonly<Record<string, string>>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const k in values) out[k] = { S: values[k]! };
  return out;
}

function fromItem(item: Record<string, AttributeValue>, table: string): StoredEntity {
  const pk = item['pk']?.S;
  const kind = item['kind']?.S;
  const state = item['state']?.S;
  const version = Number(item['version']?.N);
  if (!pk || (kind !== 'card' && kind !== 'merchant' && kind !== 'shard') || state === undefined || !Number.isInteger(version)) {
    throw new ResourceError(`${table}: item ${pk ?? '(no pk)'} lacks pk, kind, state or version`, `${table}/${pk ?? ''}`, false);
  }
  const stats = item['stats']?.M;
  const seq = item['seq']?.M;
  return {
    pk,
    kind: kind as EntityKind,
    state,
    version,
    ...(stats ? { stats: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, Number(v.N ?? 0)])) as unknown as CardStats } : {}),
    ...(seq ? { seq: Object.fromEntries(Object.entries(seq).map(([k, v]) => [k, v.S ?? ''])) } : {}),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
