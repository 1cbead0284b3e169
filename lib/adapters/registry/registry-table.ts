// The registry's DynamoDB items. Per model name, one partition (`pk = model#<name>`):
//   sk `version#<version>`: state, tier, feature set, metrics, package location, the transitions
//                           list, and `last_revision` (the pointer revision last applied to it);
//   sk `production`:        the pointer: the production version, a revision every transition
//                           bumps, the earlier production versions (for rollback), and `pending`,
//                           the changes of the last committed transition until they are applied.
//
// Write order (dynalite has no TransactWriteItems, so no two items change atomically):
//   1. commit: PutItem the pointer with the next revision and the plan as `pending`, on condition
//      that the revision is still the one read. This is the transition's single commit point: of
//      two concurrent transitions of one model exactly one commits, the other re-reads and re-plans.
//   2. apply: UpdateItem each changed version item (state, transitions += one), on condition that
//      its `last_revision` is below the committed revision, so applying twice changes nothing.
//   3. clear: REMOVE `pending` from the pointer, on condition that the revision is unchanged.
// A crash after 1 leaves `pending` on the pointer. Reads overlay the pending changes on the items
// they return (so they show the committed state without writing, which a read-only principal
// could not), and the next transition of the model first applies them (2 and 3), then plans on the
// repaired state. The production version is read from the pointer alone, so it is right even mid-way.
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import { ResourceError } from '../../core/errors';
import { HoldoutMetricsSchema, type ModelName, type ModelVersion } from '../../core/models/manifest';
import { MODEL_STATES, type ModelVersionRecord, type Transition } from '../../core/models/ports';
import { modelPartitionKey, POINTER_SORT_KEY, versionSortKey } from '../../core/registry/keys';
import { EMPTY_POINTER, type ProductionPointer, type TransitionPlan, type VersionChange } from '../../core/registry/lifecycle';

const StateSchema = z.enum(MODEL_STATES);

const TransitionItemSchema = z.object({
  from: StateSchema.nullable(),
  to: StateSchema,
  actor: z.string(),
  reason: z.string(),
  at: z.string(),
  /** The pointer revision that made it; 0 for registration. */
  revision: z.number().int().nonnegative(),
});

const VersionItemSchema = z.object({
  pk: z.string(),
  sk: z.string(),
  name: z.string(),
  version: z.string(),
  state: StateSchema,
  tier: z.string(),
  feature_set: z.string(),
  registered_at: z.string(),
  metrics: HoldoutMetricsSchema,
  location: z.object({
    manifest_key: z.string(),
    model_key: z.string(),
    manifest_version_id: z.string().optional(),
    model_version_id: z.string().optional(),
  }),
  onnx_sha256: z.string(),
  signing_key_id: z.string(),
  transitions: z.array(TransitionItemSchema),
  last_revision: z.number().int().nonnegative(),
});
type VersionItem = z.infer<typeof VersionItemSchema>;

const PendingChangeSchema = z.object({
  version: z.string(),
  from: StateSchema,
  to: StateSchema,
  actor: z.string(),
  reason: z.string(),
  at: z.string(),
});

const PointerItemSchema = z.object({
  pk: z.string(),
  sk: z.literal(POINTER_SORT_KEY),
  name: z.string(),
  production: z.string().optional(),
  revision: z.number().int().positive(),
  history: z.array(z.string()),
  pending: z.array(PendingChangeSchema).optional(),
  updated_at: z.string(),
});

/** The pointer as stored, with the changes of its revision that may not be applied yet. */
export interface StoredPointer extends ProductionPointer {
  readonly pending: readonly VersionChange[];
}

export interface StoredVersion {
  readonly record: ModelVersionRecord;
  /** The pointer revision last applied to this item (0: none since registration). */
  readonly lastRevision: number;
  readonly onnxSha256: string;
  readonly signingKeyId: string;
}

export interface ModelSnapshot {
  readonly name: ModelName;
  readonly pointer: StoredPointer;
  readonly versions: ReadonlyMap<ModelVersion, StoredVersion>;
}

/** What registration writes. */
export interface NewVersion {
  readonly record: ModelVersionRecord;
  readonly onnxSha256: string;
  readonly signingKeyId: string;
}

const EMPTY_STORED_POINTER: StoredPointer = { ...EMPTY_POINTER, pending: [] };

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error instanceof Error && error.name === 'ConditionalCheckFailedException');
}

function parseItem<T>(schema: z.ZodType<T>, item: Record<string, AttributeValue>, tableName: string): T {
  const raw = unmarshall(item);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const where = `${tableName}/${String(raw.pk)}/${String(raw.sk)}`;
    throw new ResourceError(`registry item ${where} is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`, where, false);
  }
  return parsed.data;
}

function toRecord(item: VersionItem): ModelVersionRecord {
  return {
    name: item.name as ModelName,
    version: item.version as ModelVersion,
    state: item.state,
    tier: item.tier,
    featureSet: item.feature_set,
    registeredAt: item.registered_at,
    metrics: item.metrics,
    location: {
      manifestKey: item.location.manifest_key,
      modelKey: item.location.model_key,
      ...(item.location.manifest_version_id ? { manifestVersionId: item.location.manifest_version_id } : {}),
      ...(item.location.model_version_id ? { modelVersionId: item.location.model_version_id } : {}),
    },
    transitions: item.transitions.map(({ from, to, actor, reason, at }): Transition => ({ from, to, actor, reason, at })),
  };
}

function toStoredVersion(item: VersionItem): StoredVersion {
  return { record: toRecord(item), lastRevision: item.last_revision, onnxSha256: item.onnx_sha256, signingKeyId: item.signing_key_id };
}

function toStoredPointer(item: z.infer<typeof PointerItemSchema>): StoredPointer {
  return {
    production: item.production as ModelVersion | undefined,
    revision: item.revision,
    history: item.history as ModelVersion[],
    pending: (item.pending ?? []).map(({ version, ...t }) => ({ version: version as ModelVersion, transition: t })),
  };
}

/**
 * The versions as the committed pointer says they are: pending changes the items do not show yet
 * are overlaid, in memory only (see the write order above).
 */
export function effectiveVersions(snapshot: ModelSnapshot): Map<ModelVersion, StoredVersion> {
  const versions = new Map(snapshot.versions);
  for (const change of snapshot.pointer.pending) {
    const stored = versions.get(change.version);
    if (!stored || stored.lastRevision >= snapshot.pointer.revision) continue;
    versions.set(change.version, {
      ...stored,
      lastRevision: snapshot.pointer.revision,
      record: { ...stored.record, state: change.transition.to, transitions: [...stored.record.transitions, change.transition] },
    });
  }
  return versions;
}

export class RegistryTable {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    readonly tableName: string,
  ) {}

  private key(name: ModelName, sk: string): Record<string, AttributeValue> {
    return marshall({ pk: modelPartitionKey(name), sk });
  }

  /** Every item of one model in one consistent Query (the pointer sorts before the versions). */
  async readModel(name: ModelName): Promise<ModelSnapshot> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': modelPartitionKey(name) }),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return this.snapshot(name, items);
  }

  /** Every model, by Scan: for listings across names, not for the serving path. */
  async readAll(): Promise<ModelSnapshot[]> {
    const byModel = new Map<string, Record<string, AttributeValue>[]>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.dynamodb.send(new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const item of out.Items ?? []) {
        const pk = item.pk?.S;
        if (!pk?.startsWith('model#')) continue;
        const list = byModel.get(pk) ?? [];
        list.push(item);
        byModel.set(pk, list);
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return [...byModel].map(([pk, items]) => this.snapshot(pk.slice('model#'.length) as ModelName, items));
  }

  private snapshot(name: ModelName, items: readonly Record<string, AttributeValue>[]): ModelSnapshot {
    let pointer = EMPTY_STORED_POINTER;
    const versions = new Map<ModelVersion, StoredVersion>();
    for (const item of items) {
      if (item.sk?.S === POINTER_SORT_KEY) pointer = toStoredPointer(parseItem(PointerItemSchema, item, this.tableName));
      else if (item.sk?.S?.startsWith('version#')) {
        const stored = toStoredVersion(parseItem(VersionItemSchema, item, this.tableName));
        versions.set(stored.record.version, stored);
      }
    }
    return { name, pointer, versions };
  }

  async readPointer(name: ModelName): Promise<StoredPointer> {
    const out = await this.dynamodb.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(name, POINTER_SORT_KEY), ConsistentRead: true }));
    return out.Item ? toStoredPointer(parseItem(PointerItemSchema, out.Item, this.tableName)) : EMPTY_STORED_POINTER;
  }

  /** One version and the pointer (for the overlay), in two consistent reads. */
  async readVersion(name: ModelName, version: ModelVersion): Promise<ModelSnapshot> {
    const [item, pointer] = await Promise.all([
      this.dynamodb.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(name, versionSortKey(version)), ConsistentRead: true })),
      this.readPointer(name),
    ]);
    const versions = new Map<ModelVersion, StoredVersion>();
    if (item.Item) versions.set(version, toStoredVersion(parseItem(VersionItemSchema, item.Item, this.tableName)));
    return { name, pointer, versions };
  }

  /** Creates a version item; false when the version already exists. */
  async createVersion(version: NewVersion): Promise<boolean> {
    const r = version.record;
    const item: VersionItem = {
      pk: modelPartitionKey(r.name),
      sk: versionSortKey(r.version),
      name: r.name,
      version: r.version,
      state: r.state,
      tier: r.tier,
      feature_set: r.featureSet,
      registered_at: r.registeredAt,
      metrics: r.metrics,
      location: {
        manifest_key: r.location.manifestKey,
        model_key: r.location.modelKey,
        ...(r.location.manifestVersionId ? { manifest_version_id: r.location.manifestVersionId } : {}),
        ...(r.location.modelVersionId ? { model_version_id: r.location.modelVersionId } : {}),
      },
      onnx_sha256: version.onnxSha256,
      signing_key_id: version.signingKeyId,
      transitions: r.transitions.map((t) => ({ ...t, revision: 0 })),
      last_revision: 0,
    };
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(item, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Step 1: the commit point. False when another transition committed since `expected` was read. */
  async commit(name: ModelName, expected: ProductionPointer, plan: TransitionPlan, at: string): Promise<boolean> {
    const item = {
      pk: modelPartitionKey(name),
      sk: POINTER_SORT_KEY,
      name,
      production: plan.pointer.production,
      revision: plan.pointer.revision,
      history: [...plan.pointer.history],
      pending: plan.changes.map((c) => ({ version: c.version, ...c.transition })),
      updated_at: at,
    };
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(item, { removeUndefinedValues: true }),
          ...(expected.revision === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#revision = :expected', ExpressionAttributeNames: { '#revision': 'revision' }, ExpressionAttributeValues: marshall({ ':expected': expected.revision }) }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Step 2 for one version: idempotent, a change already applied (or overtaken) is left alone. */
  async apply(name: ModelName, change: VersionChange, revision: number): Promise<void> {
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(name, versionSortKey(change.version)),
          UpdateExpression: 'SET #state = :to, #transitions = list_append(#transitions, :transition), #last = :revision',
          ConditionExpression: 'attribute_exists(pk) AND #last < :revision',
          ExpressionAttributeNames: { '#state': 'state', '#transitions': 'transitions', '#last': 'last_revision' },
          ExpressionAttributeValues: marshall({
            ':to': change.transition.to,
            ':transition': [{ ...change.transition, revision }],
            ':revision': revision,
          }),
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Step 3: the pointer's revision is fully applied. A pointer that has moved on is left alone. */
  async clearPending(name: ModelName, revision: number): Promise<void> {
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(name, POINTER_SORT_KEY),
          UpdateExpression: 'REMOVE pending',
          ConditionExpression: '#revision = :revision',
          ExpressionAttributeNames: { '#revision': 'revision' },
          ExpressionAttributeValues: marshall({ ':revision': revision }),
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Steps 2 and 3 for whatever the pointer still holds: finishes a transition a crash interrupted. */
  async repair(name: ModelName, pointer: StoredPointer): Promise<void> {
    if (pointer.pending.length === 0) return;
    // In plan order: the outgoing production version is archived before the incoming one is promoted.
    for (const change of pointer.pending) await this.apply(name, change, pointer.revision);
    await this.clearPending(name, pointer.revision);
  }
}
