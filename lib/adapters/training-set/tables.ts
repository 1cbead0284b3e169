// Opening the offline tables a training set or a backfill reads, without creating them: openTable
// creates a missing table, which for a reader would turn a wrong --warehouse into an empty result
// instead of an error.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ResourceError } from '../../core/errors';
import type { IcebergTableDefinition } from '../../core/iceberg';
import { DEFAULT_DATABASE, openTable, type IcebergTable, type WarehouseOptions } from '../iceberg';

/** Opens a table that must already exist; ResourceError naming its path otherwise. */
export async function openExistingTable<Row>(warehouse: WarehouseOptions, definition: IcebergTableDefinition<Row>): Promise<IcebergTable<Row>> {
  const database = warehouse.database ?? DEFAULT_DATABASE;
  const dir = resolve(warehouse.warehouse, database, definition.name);
  if (!existsSync(join(dir, 'metadata'))) {
    throw new ResourceError(`${database}.${definition.name}: no table at ${dir} (is --warehouse right?)`, `${database}.${definition.name}`, false);
  }
  return openTable(warehouse, definition);
}
