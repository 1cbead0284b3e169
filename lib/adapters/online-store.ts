// The online store on DynamoDB: one item per entity (card or merchant) holding its engine state,
// its current feature vector and a version that every write is conditioned on.
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
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
  readonly now?: () => number;
}

const BATCH_GET_LIMIT = 100;
const PROJECTION = 'pk, kind, #state, version, stats, seq';

export class DynamoOnlineStore implements OnlineStorePort {
  private readonly ttlSeconds: number;
  private readonly now: () => number;

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

  async put(item: EntityWrite, expectedVersion: number | null): Promise<PutOutcome> {
    const now = this.now();
    const attrs: Record<string, AttributeValue> = {
      pk: { S: item.pk },
      kind: { S: item.kind },
      state: { S: item.state },
      version: { N: String(item.version) },
      feature_set: { S: item.featureSet },
      features: { M: Object.fromEntries(Object.entries(item.features).map(([k, v]) => [k, { N: String(v) }])) },
      as_of: { N: String(item.asOf) },
      updated_at: { S: new Date(now).toISOString() },
      expires_at: { N: String(Math.floor(now / 1000) + this.ttlSeconds) },
    };
    if (item.stats) attrs['stats'] = { M: Object.fromEntries(Object.entries(item.stats).map(([k, v]) => [k, { N: String(v) }])) };
    if (item.seq) attrs['seq'] = { M: Object.fromEntries(Object.entries(item.seq).map(([k, v]) => [k, { S: v }])) };
    const condition =
      expectedVersion === null
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': { N: String(expectedVersion) } } };
    try {
      await this.options.client.send(new PutItemCommand({ TableName: this.options.tableName, Item: attrs, ...condition }));
      return 'written';
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return 'conflict';
      throw this.wrap(e);
    }
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
