// The local Firehose endpoint against the real @aws-sdk/client-firehose (its JSON 1.1 serializers,
// base64 blobs and typed exceptions prove the wire protocol), delivering into genuine Iceberg
// tables with the project's writer, read back with the project's reader (DuckDB over the Parquet
// files of the current snapshot). FirehoseSink is exercised end to end, partial failures included.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeDeliveryStreamCommand,
  FirehoseClient,
  InvalidArgumentException,
  ListDeliveryStreamsCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-firehose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FirehoseDeliveryError, FirehoseSink, firehoseClient, toFirehoseRecord } from '../../lib/adapters/firehose-sink';
import { listDataFiles, openTable, readRows, type IcebergTable } from '../../lib/adapters/iceberg';
import { ResourceError, ValidationError } from '../../lib/core/errors';
import type { IcebergTableDefinition } from '../../lib/core/iceberg/table-definition';
import { EVENTS_TABLE, LABELS_TABLE, type EventsRow, type LabelsRow } from '../../lib/core/offline/tables';
import { platformResources } from '../../lib/core/resources';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localAwsEnvironment } from '../../lib/local/aws-clients';
import { startFirehoseEndpoint, warehouseSink, type FirehoseEndpoint, type FirehoseEndpointOptions, type TableSink } from '../../lib/local/firehose-endpoint';
import { FIREHOSE_ERRORS_DIR, WAREHOUSE_DIR, runningStandIns, startStandIns } from '../../lib/local/stand-ins';

const DATABASE = 'fathom_offline';
const EVENTS = 'fathom-offline-events';
const LABELS = 'fathom-offline-labels';
const T0 = Date.UTC(2026, 0, 31, 12);

const labels = (n: number, from = 0): LabelsRow[] =>
  Array.from({ length: n }, (_, i) => ({ event_id: `e${from + i}`, label: (from + i) % 3 === 0 ? 1 : 0, labeled_at: new Date(T0 + (from + i) * 60_000).toISOString() }));

const events = (n: number, from = 0): EventsRow[] =>
  Array.from({ length: n }, (_, i) => {
    const k = from + i;
    // Spread over two days: the rows land in two partitions.
    const eventTime = new Date(T0 + k * 3_600_000).toISOString();
    const row = { event_id: `ev${k}`, entity_id: `card${k % 7}`, merchant_id: `m${k % 3}`, amount: 10 + k / 4, currency: 'EUR', mcc: 5411, country: 'FR', channel: 'pos', event_time: eventTime };
    return { ...row, received_at: eventTime, raw: JSON.stringify(row) };
  });

/** A record as a producer that knows the wire would write it. */
const record = <Row>(table: IcebergTableDefinition<Row>, row: Row) => ({ Data: new TextEncoder().encode(`${JSON.stringify(toFirehoseRecord(table, row))}\n`) });
const rawRecord = (text: string) => ({ Data: new TextEncoder().encode(text) });

const byId = <T extends { event_id: string }>(rows: readonly T[]) => [...rows].sort((a, b) => a.event_id.localeCompare(b.event_id, 'en', { numeric: true }));

/** Every error record written under `<errorDir>/<stream>/<date>/`, with the date folder it was found in. */
function errorRecords(errorDir: string, stream: string): { date: string; line: Record<string, unknown> }[] {
  const root = join(errorDir, stream);
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((date) =>
    readdirSync(join(root, date))
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) =>
        readFileSync(join(root, date, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => ({ date, line: JSON.parse(l) as Record<string, unknown> })),
      ),
  );
}

/** A sink in front of the real one whose appends wait until `open()` (deliveries pile up meanwhile). */
function gated(inner: TableSink) {
  let release: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (release = resolve));
  return {
    sink: { append: async (table, rows) => (await gate, inner.append(table, rows)) } satisfies TableSink,
    open: () => release(),
    close: () => (gate = new Promise<void>((resolve) => (release = resolve))),
  };
}

describe('local Firehose endpoint (AWS JSON 1.1) delivering into Iceberg tables', () => {
  let dir: string;
  let warehouse: string;
  let errorDir: string;
  let endpoint: FirehoseEndpoint | undefined;
  let client: FirehoseClient;

  const tableOf = async <Row>(definition: IcebergTableDefinition<Row>) => openTable({ warehouse, database: DATABASE }, definition);
  const rowsOf = async <Row>(definition: IcebergTableDefinition<Row>) => readRows(await tableOf(definition));

  async function start(options: Partial<FirehoseEndpointOptions> = {}): Promise<FirehoseEndpoint> {
    endpoint = await startFirehoseEndpoint({
      streams: { [EVENTS]: EVENTS_TABLE as IcebergTableDefinition<unknown>, [LABELS]: LABELS_TABLE as IcebergTableDefinition<unknown> },
      sink: warehouseSink({ warehouse, database: DATABASE }),
      errorDir,
      databaseName: DATABASE,
      // Deliveries happen on flush() unless a test asks otherwise.
      buffering: { sizeBytes: 64 * 1024 * 1024, intervalMs: 60_000 },
      onDeliveryError: () => undefined,
      ...options,
    });
    client = new FirehoseClient({ endpoint: endpoint.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    return endpoint;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-firehose-'));
    warehouse = join(dir, 'warehouse');
    errorDir = join(dir, 'firehose-errors');
  });
  afterEach(async () => {
    client?.destroy();
    await endpoint?.close();
    endpoint = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('PutRecord: returns a RecordId, and the row is in the table after a flush', async () => {
    const ep = await start();
    const [row] = labels(1);
    const out = await client.send(new PutRecordCommand({ DeliveryStreamName: LABELS, Record: record(LABELS_TABLE, row!) }));
    expect(out.RecordId).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(out.Encrypted).toBe(false);
    expect(ep.stats()[LABELS]).toEqual({ delivered: 0, errors: 0, buffered: 1 });
    await ep.flush();
    expect(await rowsOf(LABELS_TABLE)).toEqual([row]);
    expect(ep.stats()[LABELS]).toEqual({ delivered: 1, errors: 0, buffered: 0 });
  });

  it('PutRecordBatch through FirehoseSink: every row, one Iceberg commit per delivery, day partitions', async () => {
    const ep = await start();
    const sink = new FirehoseSink({ client, deliveryStreamName: EVENTS, table: EVENTS_TABLE });
    const sent = events(700);
    // 700 rows: two PutRecordBatch calls (500 + 200), one buffer, one commit.
    expect(await sink.send(sent)).toEqual({ rows: 700, calls: 2, resent: 0 });
    await ep.flush();
    const table = await tableOf(EVENTS_TABLE);
    expect(byId(await readRows(table))).toEqual(byId(sent));
    const files = await listDataFiles(table);
    expect(new Set(files.files.map((f) => JSON.stringify(f.partition))).size).toBe(30);
    const metadata = readdirSync(join(warehouse, DATABASE, 'events', 'metadata')).filter((f) => f.endsWith('.metadata.json'));
    // v1: the empty table; v2: the one commit.
    expect(metadata.sort()).toEqual(['v1.metadata.json', 'v2.metadata.json']);
  });

  it('sends records that are not rows of the table to the error output with the reason, and delivers the rest', async () => {
    const ep = await start();
    const good = labels(3);
    const bad = [
      rawRecord('{"event_id": "broken"'),
      rawRecord('[1, 2, 3]\n'),
      record(LABELS_TABLE, { event_id: 'e-label-2', label: 2 as 0, labeled_at: '2026-01-31T12:00:00.000Z' }),
      // An ISO timestamp where the Iceberg destination wants epoch microseconds.
      rawRecord(`${JSON.stringify({ event_id: 'e-iso', label: 1, labeled_at: '2026-01-31T12:00:00Z' })}\n`),
      { Data: new Uint8Array([0xff, 0xfe, 0x7b]) },
    ];
    const out = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: [record(LABELS_TABLE, good[0]!), ...bad, record(LABELS_TABLE, good[1]!), record(LABELS_TABLE, good[2]!)] }));
    // Firehose never looks inside a record on the way in: all of them are accepted.
    expect(out.FailedPutCount).toBe(0);
    expect(out.RequestResponses).toHaveLength(8);
    expect(out.RequestResponses!.every((r) => r.RecordId && !r.ErrorCode)).toBe(true);
    await ep.flush();
    expect(byId(await rowsOf(LABELS_TABLE))).toEqual(byId(good));

    const errors = errorRecords(errorDir, LABELS);
    expect(errors).toHaveLength(5);
    const today = new Date().toISOString().slice(0, 10);
    for (const { date, line } of errors) {
      expect(date).toBe(today);
      expect(line).toMatchObject({ deliveryStreamName: LABELS, table: 'labels', recordId: expect.any(String), arrivalTimestamp: expect.any(Number), rawData: expect.any(String) });
    }
    const reasons = errors.map(({ line }) => [line.errorCode, line.field ?? null, Buffer.from(line.rawData as string, 'base64')] as const);
    expect(reasons.map(([code, field]) => [code, field])).toEqual(
      expect.arrayContaining([
        ['InvalidJson', null],
        ['InvalidJson', null],
        ['SchemaMismatch', 'record.label'],
        ['SchemaMismatch', 'record.labeled_at'],
        ['InvalidJson', null],
      ]),
    );
    // The raw data is kept byte for byte: nothing is lost, a fixed producer can resend it.
    expect(reasons.map(([, , raw]) => raw.toString('base64')).sort()).toEqual(bad.map((b) => Buffer.from(b.Data).toString('base64')).sort());
    expect(ep.stats()[LABELS]).toEqual({ delivered: 3, errors: 5, buffered: 0 });
  });

  it('answers an unknown stream with ResourceNotFoundException, and a batch over the quota with InvalidArgumentException', async () => {
    await start();
    const missing = { DeliveryStreamName: 'no-such-stream' };
    await expect(client.send(new PutRecordCommand({ ...missing, Record: record(LABELS_TABLE, labels(1)[0]!) }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new PutRecordBatchCommand({ ...missing, Records: [record(LABELS_TABLE, labels(1)[0]!)] }))).rejects.toThrow(/Firehose no-such-stream under account 000000000000 not found/);
    await expect(client.send(new DescribeDeliveryStreamCommand(missing))).rejects.toBeInstanceOf(ResourceNotFoundException);

    const tooMany = labels(501).map((r) => record(LABELS_TABLE, r));
    await expect(client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: tooMany }))).rejects.toBeInstanceOf(InvalidArgumentException);
    await expect(client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: [] }))).rejects.toBeInstanceOf(InvalidArgumentException);
    const huge = rawRecord('x'.repeat(1_000 * 1024 + 1));
    await expect(client.send(new PutRecordCommand({ DeliveryStreamName: LABELS, Record: huge }))).rejects.toBeInstanceOf(InvalidArgumentException);

    // FirehoseSink does not retry a call refused for good.
    const sink = new FirehoseSink({ client, deliveryStreamName: 'no-such-stream', table: LABELS_TABLE, sleep: async () => undefined });
    const error = (await sink.send(labels(2)).catch((e: unknown) => e)) as ResourceError;
    expect(error).toBeInstanceOf(ResourceError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/no-such-stream.*ResourceNotFoundException/);
  });

  it('describes and lists its delivery streams', async () => {
    await start();
    const { DeliveryStreamDescription: d } = await client.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: EVENTS }));
    expect(d).toMatchObject({
      DeliveryStreamName: EVENTS,
      DeliveryStreamARN: `arn:aws:firehose:us-east-1:000000000000:deliverystream/${EVENTS}`,
      DeliveryStreamStatus: 'ACTIVE',
      DeliveryStreamType: 'DirectPut',
      HasMoreDestinations: false,
    });
    expect(d!.CreateTimestamp).toBeInstanceOf(Date);
    expect(d!.Destinations![0]!.IcebergDestinationDescription).toMatchObject({
      DestinationTableConfigurationList: [{ DestinationDatabaseName: DATABASE, DestinationTableName: 'events', S3ErrorOutputPrefix: `firehose-errors/${EVENTS}/` }],
      BufferingHints: { SizeInMBs: 64, IntervalInSeconds: 60 },
      S3BackupMode: 'FailedDataOnly',
      AppendOnly: true,
    });

    expect(await client.send(new ListDeliveryStreamsCommand({}))).toMatchObject({ DeliveryStreamNames: [EVENTS, LABELS], HasMoreDeliveryStreams: false });
    expect(await client.send(new ListDeliveryStreamsCommand({ Limit: 1 }))).toMatchObject({ DeliveryStreamNames: [EVENTS], HasMoreDeliveryStreams: true });
    expect(await client.send(new ListDeliveryStreamsCommand({ ExclusiveStartDeliveryStreamName: EVENTS }))).toMatchObject({ DeliveryStreamNames: [LABELS], HasMoreDeliveryStreams: false });
  });

  it('delivers on its own once the buffer reaches its size, and after its interval', async () => {
    const ep = await start({ buffering: { sizeBytes: 2_000, intervalMs: 300 } });
    const sink = new FirehoseSink({ client, deliveryStreamName: LABELS, table: LABELS_TABLE });
    // ~85 bytes a record: 40 records are over 2,000 bytes, delivered without waiting for the interval.
    await sink.send(labels(40));
    await expect.poll(() => ep.stats()[LABELS]!.delivered, { timeout: 5_000, interval: 20 }).toBe(40);
    // Two records stay under the size: the interval delivers them.
    await sink.send(labels(2, 100));
    expect(ep.stats()[LABELS]!.buffered).toBe(2);
    await expect.poll(() => ep.stats()[LABELS]!.delivered, { timeout: 5_000, interval: 50 }).toBe(42);
    expect(byId(await rowsOf(LABELS_TABLE))).toEqual(byId([...labels(40), ...labels(2, 100)]));
  });

  it('refuses entries while deliveries lag: a real partial failure, which FirehoseSink resends until every row is in', async () => {
    const gate = gated(warehouseSink({ warehouse, database: DATABASE }));
    const recordBytes = record(LABELS_TABLE, labels(1)[0]!).Data.byteLength;
    // Room for three records; each delivers at once (size 1 byte) but the appends wait at the gate.
    const ep = await start({ sink: gate.sink, maxPendingBytes: recordBytes * 3 + 2, buffering: { sizeBytes: 1, intervalMs: 60_000 } });

    const first = labels(5);
    const out = await client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: first.map((r) => record(LABELS_TABLE, r)) }));
    expect(out.FailedPutCount).toBe(2);
    expect(out.RequestResponses!.map((r) => r.ErrorCode ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'ServiceUnavailableException', 'ServiceUnavailableException']);
    expect(out.RequestResponses![3]!.ErrorMessage).toBe('Slow down.');

    // The sink's first attempt finds the stream full; each backoff lets the deliveries through.
    const sleeps: number[] = [];
    const sink = new FirehoseSink({
      client,
      deliveryStreamName: LABELS,
      table: LABELS_TABLE,
      maxAttempts: 8,
      sleep: async (ms) => {
        sleeps.push(ms);
        gate.open();
        await ep.flush();
      },
    });
    const second = labels(6, 10);
    const summary = await sink.send(second);
    expect(summary.rows).toBe(6);
    expect(summary.calls).toBeGreaterThan(1);
    expect(summary.resent).toBeGreaterThan(0);
    expect(sleeps.length).toBe(summary.calls - 1);
    await ep.flush();
    // The three accepted of the first batch and all six of the second, each exactly once.
    expect(byId(await rowsOf(LABELS_TABLE))).toEqual(byId([...first.slice(0, 3), ...second]));
  });

  it('FirehoseSink gives up after its attempts with a retryable error naming the stream and the count', async () => {
    const gate = gated(warehouseSink({ warehouse, database: DATABASE }));
    const recordBytes = record(LABELS_TABLE, labels(1)[0]!).Data.byteLength;
    const ep = await start({ sink: gate.sink, maxPendingBytes: recordBytes * 2 + 2, buffering: { sizeBytes: 1, intervalMs: 60_000 } });
    const sink = new FirehoseSink({ client, deliveryStreamName: LABELS, table: LABELS_TABLE, maxAttempts: 3, sleep: async () => undefined });
    const error = (await sink.send(labels(5)).catch((e: unknown) => e)) as FirehoseDeliveryError;
    expect(error).toBeInstanceOf(FirehoseDeliveryError);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(new RegExp(`${LABELS}: 3 of 5 rows not accepted after 3 attempts \\(ServiceUnavailableException ×3\\)`));
    gate.open();
    await ep.flush();
    expect(await rowsOf(LABELS_TABLE)).toHaveLength(2);
  });

  it('retries a failed delivery, and after the retry duration writes its rows to the error output', async () => {
    let failures = 2;
    const real = warehouseSink({ warehouse, database: DATABASE });
    const flaky: TableSink = {
      append: async (table, rows) => {
        if (failures-- > 0) throw new ResourceError('commit conflict storm', 'labels', true);
        await real.append(table, rows);
      },
    };
    const ep = await start({ sink: flaky, retryDelayMs: 10 });
    await client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: labels(3).map((r) => record(LABELS_TABLE, r)) }));
    await expect(ep.flush()).rejects.toThrow('commit conflict storm');
    await expect(ep.flush()).rejects.toThrow('commit conflict storm');
    await ep.flush();
    expect(byId(await rowsOf(LABELS_TABLE))).toEqual(labels(3));
    await ep.close();
    endpoint = undefined;

    // A sink that never recovers, with no retry duration: the rows go to the error output at once.
    const broken: TableSink = { append: async () => Promise.reject(new Error('disk full')) };
    const ep2 = await start({ sink: broken, retryDurationMs: 0 });
    await client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: labels(2, 50).map((r) => record(LABELS_TABLE, r)) }));
    await expect(ep2.flush()).rejects.toThrow('disk full');
    const errors = errorRecords(errorDir, LABELS).map(({ line }) => line);
    expect(errors.map((e) => [e.errorCode, e.attemptsMade])).toEqual([
      ['DeliveryFailed', 1],
      ['DeliveryFailed', 1],
    ]);
    expect(String(errors[0]!.errorMessage)).toMatch(/disk full/);
    expect(ep2.stats()[LABELS]).toEqual({ delivered: 0, errors: 2, buffered: 0 });
  });

  it('moves a row the table refuses to the error output and appends the others', async () => {
    const real = warehouseSink({ warehouse, database: DATABASE });
    // A writer stricter than the endpoint's own check, refusing one row by index as appendRows does.
    const strict: TableSink = {
      append: async (table, rows) => {
        const index = rows.findIndex((r) => (r as LabelsRow).event_id === 'e1');
        if (index >= 0) throw new ValidationError(`labels rows[${index}].event_id: refused`, `rows[${index}].event_id`);
        await real.append(table, rows);
      },
    };
    const ep = await start({ sink: strict });
    await client.send(new PutRecordBatchCommand({ DeliveryStreamName: LABELS, Records: labels(3).map((r) => record(LABELS_TABLE, r)) }));
    await ep.flush();
    expect(byId(await rowsOf(LABELS_TABLE))).toEqual([labels(3)[0], labels(3)[2]]);
    expect(errorRecords(errorDir, LABELS).map(({ line }) => [line.errorCode, line.field])).toEqual([['SchemaMismatch', 'rows[1].event_id']]);
  });

  it('on close, delivers what is buffered, and writes what cannot be delivered to the error output', async () => {
    const ep = await start();
    await client.send(new PutRecordBatchCommand({ DeliveryStreamName: EVENTS, Records: events(4).map((r) => record(EVENTS_TABLE, r)) }));
    client.destroy();
    await ep.close();
    endpoint = undefined;
    expect(byId(await rowsOf(EVENTS_TABLE))).toEqual(byId(events(4)));

    const never: TableSink = { append: async () => Promise.reject(new Error('warehouse unreachable')) };
    const ep2 = await start({ sink: never });
    await client.send(new PutRecordCommand({ DeliveryStreamName: LABELS, Record: record(LABELS_TABLE, labels(1)[0]!) }));
    client.destroy();
    await ep2.close();
    endpoint = undefined;
    const errors = errorRecords(errorDir, LABELS).map(({ line }) => line);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errorCode: 'DeliveryFailed', errorMessage: expect.stringMatching(/endpoint closed before delivery: .*warehouse unreachable/) });
  });
});

describe('the warehouse sink compacts its tables as they fill (Glue table optimizers on AWS)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-sink-compact-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('compacts a table in the background every compactEvery appends; every row stays, once', async () => {
    const warehouse = { warehouse: join(dir, 'warehouse'), database: DATABASE };
    const outcomes: { table: string; files?: number; error?: unknown }[] = [];
    const sink = warehouseSink(warehouse, {
      compactEvery: 3,
      onCompaction: (table, outcome) => outcomes.push('error' in outcome ? { table, error: outcome.error } : { table, files: outcome.result?.rewrittenFiles ?? 0 }),
    });
    // Seven appends of ten hourly events each: one file per day partition an append touches.
    let appended = 0;
    for (let k = 0; k < 7; k++) {
      const rows = events(10, 10 * k);
      appended += new Set(rows.map((r) => r.event_time.slice(0, 10))).size;
      await sink.append(EVENTS_TABLE as IcebergTableDefinition<unknown>, rows);
    }
    await sink.close!();
    const table = await openTable(warehouse, EVENTS_TABLE);
    expect(byId(await readRows(table))).toEqual(byId(events(70)));
    // A compaction starts after the 3rd append, and after the 6th unless the first is still running
    // (appends never wait for one): each rewrote files, and fewer are left than were appended.
    expect(outcomes.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.every((o) => o.table === 'events' && o.error === undefined && o.files! > 0)).toBe(true);
    const live = await listDataFiles(table as IcebergTable<unknown>);
    expect(appended).toBe(9);
    expect(live.files.length).toBeLessThan(appended);
  });

  it('does not compact unless asked, and refuses a compactEvery that is not a count', async () => {
    const warehouse = { warehouse: join(dir, 'warehouse'), database: DATABASE };
    const sink = warehouseSink(warehouse);
    // Four appends touching 1, 2, 1 and 2 day partitions: six files, left as they are.
    for (let k = 0; k < 4; k++) await sink.append(EVENTS_TABLE as IcebergTableDefinition<unknown>, events(10, 10 * k));
    await sink.close!();
    expect((await listDataFiles((await openTable(warehouse, EVENTS_TABLE)) as IcebergTable<unknown>)).files).toHaveLength(6);
    expect(() => warehouseSink(warehouse, { compactEvery: 1.5 })).toThrow(/compactEvery: must be a non-negative integer/);
  });
});

describe('the Firehose stand-in among the others', () => {
  let dir: string;
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fathom-standins-firehose-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with the stand-ins, is reached through AWS_ENDPOINT_URL_FIREHOSE, and fills the warehouse under the data dir', async () => {
    const standIns = await startStandIns({ dataDir: dir, persist: false });
    const offline = platformResources().offlineStore;
    try {
      expect(standIns.endpoints.firehose).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(runningStandIns(dir)).toEqual(standIns.endpoints);
      const environment = localAwsEnvironment(standIns.endpoints);
      expect(environment.AWS_ENDPOINT_URL_FIREHOSE).toBe(standIns.endpoints.firehose);
      // As a handler builds it: no endpoint in code, only the standard variables.
      for (const [k, v] of Object.entries(environment)) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
      const client = firehoseClient();
      try {
        const { DeliveryStreamNames } = await client.send(new ListDeliveryStreamsCommand({ Limit: 100 }));
        expect(DeliveryStreamNames).toEqual(Object.values(offline.deliveryStreams).map((s) => s.name).sort());
        const sink = new FirehoseSink({ client, deliveryStreamName: offline.deliveryStreams.labels.name, table: LABELS_TABLE });
        await sink.send(labels(5));
        await client.send(new PutRecordCommand({ DeliveryStreamName: offline.deliveryStreams.labels.name, Record: rawRecord('not json') }));
      } finally {
        client.destroy();
      }
      await standIns.flushFirehose();
      const table = await openTable({ warehouse: join(dir, WAREHOUSE_DIR), database: offline.database }, LABELS_TABLE);
      expect(byId(await readRows(table))).toEqual(labels(5));
      expect(errorRecords(join(dir, FIREHOSE_ERRORS_DIR), offline.deliveryStreams.labels.name)).toHaveLength(1);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await standIns.stop();
    }
  });
});
