// Totals read back from the online store after a local run: how many events the feature transform
// applied and how many redeliveries it recognised, from the per-card ingest counters it keeps.
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface OnlineStoreSummary {
  readonly cards: number;
  readonly merchants: number;
  /** Σ stats.applied over card items: events whose features were computed and written. */
  readonly applied: number;
  /** Σ stats.duplicates: redelivered events recognised and ignored. */
  readonly duplicates: number;
  readonly late: number;
  readonly tooLate: number;
}

/** Scans the whole table (a local table is small); card items are `card#…`, merchants `merchant#…`. */
export async function summarizeOnlineStore(dynamodb: DynamoDBClient, tableName: string): Promise<OnlineStoreSummary> {
  const totals = { cards: 0, merchants: 0, applied: 0, duplicates: 0, late: 0, tooLate: 0 };
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({ TableName: tableName, ProjectionExpression: 'pk, stats', ConsistentRead: true, ExclusiveStartKey }),
    );
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? '';
      if (pk.startsWith('merchant#')) totals.merchants += 1;
      if (!pk.startsWith('card#')) continue;
      totals.cards += 1;
      const stats = item.stats?.M ?? {};
      const count = (name: string) => Number(stats[name]?.N ?? 0);
      totals.applied += count('applied');
      totals.duplicates += count('duplicates');
      totals.late += count('late');
      totals.tooLate += count('too_late');
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return totals;
}
