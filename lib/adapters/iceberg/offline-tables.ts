// The offline store's four tables, opened (or created) together in one warehouse.
import { OFFLINE_TABLES, type EventsRow, type FeatureLogRow, type LabelsRow, type OfflineTableName, type PredictionsRow } from '../../core/offline/tables';
import { openTable, type IcebergTable, type WarehouseOptions } from './table';

export interface OfflineTables {
  readonly events: IcebergTable<EventsRow>;
  readonly feature_log: IcebergTable<FeatureLogRow>;
  readonly predictions: IcebergTable<PredictionsRow>;
  readonly labels: IcebergTable<LabelsRow>;
}

export async function openOfflineTables(options: WarehouseOptions): Promise<OfflineTables> {
  const [events, feature_log, predictions, labels] = await Promise.all([
    openTable(options, OFFLINE_TABLES.events),
    openTable(options, OFFLINE_TABLES.feature_log),
    openTable(options, OFFLINE_TABLES.predictions),
    openTable(options, OFFLINE_TABLES.labels),
  ]);
  return { events, feature_log, predictions, labels };
}

/** A table by name, for callers that route by name (a delivery stream's destination table). */
export function offlineTable(tables: OfflineTables, name: OfflineTableName): IcebergTable<unknown> {
  return tables[name] as IcebergTable<unknown>;
}
