// A separate writer process for the concurrency test: appends `commits` batches of events to the
// table and prints each commit's result as a JSON line.
import { appendRows, openTable } from '../../lib/adapters/iceberg';
import { EVENTS_TABLE } from '../../lib/core/offline/tables';
import { eventRows } from './iceberg-fixtures';

const [warehouse, database, writer, commits, rowsPerCommit] = process.argv.slice(2);
if (!warehouse || !database || !writer || !commits || !rowsPerCommit) throw new Error('usage: iceberg-writer-process <warehouse> <database> <writer> <commits> <rows per commit>');
const table = await openTable({ warehouse, database }, EVENTS_TABLE);
for (let c = 0; c < Number(commits); c++) {
  const result = await appendRows(table, eventRows(`${writer}-c${c}`, 0, Number(rowsPerCommit)));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
