export { openTable, loadTable, latestVersion, readVersion, DEFAULT_DATABASE, type IcebergTable, type TableState, type WarehouseOptions } from './table';
export { appendRows, type AppendOptions, type AppendResult } from './append';
export { listDataFiles, queryTable, queryTables, readRows, type DataFileInfo, type QueryContext, type QueryRow, type ReadOptions, type SnapshotFiles, type TableSource } from './reader';
export { compact, expireSnapshots, DEFAULT_TARGET_FILE_SIZE_BYTES, type CompactOptions, type CompactResult, type ExpireOptions, type ExpireResult } from './maintenance';
export type { CommitOptions } from './commit-loop';
export { openOfflineTables, offlineTable, type OfflineTables } from './offline-tables';
