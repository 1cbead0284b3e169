// GET /v1/features/{entity_id}: the card's item from the online store, its state through the
// engine's `currentFeatures` (the same function the stream used to write the item's feature
// vector), and the item's age. One GetItem.
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NotFoundError } from '../../core/api/errors';
import { parseEntityIdParam } from '../../core/api/request';
import { featuresView, type FeaturesView } from '../../core/api/views';
import { ResourceError, ValidationError } from '../../core/errors';
import { deserializeCard, type FeatureEngine } from '../../core/features';
import { entityKey } from '../../core/pipeline/keys';

export interface FeaturesServiceOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly engine: FeatureEngine;
  readonly now?: () => number;
}

export class FeaturesService {
  private readonly now: () => number;

  constructor(private readonly options: FeaturesServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The features of the card `entityId` (the raw path parameter).
   * @throws ValidationError naming `entity_id`; NotFoundError when the store holds no such card;
   *   ResourceError when the store fails or holds an unreadable item.
   */
  async features(entityId: string | undefined, requestId: string): Promise<FeaturesView> {
    const parsed = parseEntityIdParam(entityId);
    if (!parsed.ok) throw parsed.error;
    const id = parsed.value;
    const pk = entityKey('card', id);
    const table = this.options.tableName;
    let item;
    try {
      // Eventually consistent: half the read cost, and a read-only client can live with a write
      // that landed a moment ago showing up a moment later.
      ({ Item: item } = await this.options.client.send(
        new GetItemCommand({
          TableName: table,
          Key: { pk: { S: pk } },
          ProjectionExpression: 'pk, kind, #state, as_of, updated_at',
          ExpressionAttributeNames: { '#state': 'state' },
        }),
      ));
    } catch (error) {
      throw storeError(table, error);
    }
    if (!item || item['kind']?.S !== 'card' || item['state']?.S === undefined) throw new NotFoundError(`entity_id: no features are stored for entity ${id}`, 'entity_id');
    const engine = this.options.engine;
    let features: Record<string, number>;
    try {
      features = engine.currentFeatures(deserializeCard(engine, item['state'].S));
    } catch (error) {
      // A stored state that does not parse is the platform's fault, never the client's.
      const why = error instanceof ValidationError ? `${error.field}: ${error.message}` : String(error);
      throw new ResourceError(`online store item ${pk}: state unreadable (${why})`, pk, false);
    }
    const asOf = item['as_of']?.N !== undefined ? Number(item['as_of'].N) : undefined;
    return featuresView({ requestId, entityId: id, featureSet: engine.version, features, asOf, updatedAt: item['updated_at']?.S, now: this.now() });
  }
}

function storeError(table: string, e: unknown): ResourceError {
  const err = e as { name?: string; message?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const retryable = Boolean(err.$retryable) || (err.$metadata?.httpStatusCode ?? 0) >= 500 || /Throttl|ProvisionedThroughput|RequestLimit/.test(err.name ?? '');
  return new ResourceError(`${table}: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`, table, retryable);
}
