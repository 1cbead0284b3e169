import type { PutRecordBatchCommand, PutRecordBatchCommandOutput, PutRecordBatchResponseEntry } from '@aws-sdk/client-firehose';
import { ResourceNotFoundException, ServiceUnavailableException } from '@aws-sdk/client-firehose';
import { describe, expect, it } from 'vitest';
import { ResourceError, ValidationError } from '../../lib/core/errors';
import { FIREHOSE_LIMITS, FirehoseDeliveryError, FirehoseSink, chunkRecords, fromFirehoseRecord, toFirehoseRecord, type PutRecordBatchClient } from '../../lib/adapters/firehose-sink';
import { EVENTS_TABLE, LABELS_TABLE, type LabelsRow } from '../../lib/core/offline/tables';

const decoder = new TextDecoder();

/** What one PutRecordBatch call carried: the stream and each record's text. */
interface Call {
  readonly stream: string | undefined;
  readonly records: string[];
}

/**
 * A fake Firehose that answers each call with `plan(call, n)`: per record, `undefined` (accepted)
 * or an error code; or it throws what `plan` returns when that is an Error.
 */
class FakeFirehose implements PutRecordBatchClient {
  readonly calls: Call[] = [];
  readonly accepted: string[] = [];
  constructor(private readonly plan: (call: Call, n: number) => (string | undefined)[] | Error) {}

  async send(command: PutRecordBatchCommand): Promise<PutRecordBatchCommandOutput> {
    const call: Call = { stream: command.input.DeliveryStreamName, records: (command.input.Records ?? []).map((r) => decoder.decode(r.Data)) };
    this.calls.push(call);
    const outcome = this.plan(call, this.calls.length);
    if (outcome instanceof Error) throw outcome;
    const RequestResponses: PutRecordBatchResponseEntry[] = call.records.map((record, i) => {
      const code = outcome[i];
      if (code) return { ErrorCode: code, ErrorMessage: `${code} for record ${i}` };
      this.accepted.push(record);
      return { RecordId: `id-${this.accepted.length}` };
    });
    return { FailedPutCount: RequestResponses.filter((r) => r.ErrorCode).length, Encrypted: false, RequestResponses, $metadata: {} };
  }
}

const T0 = Date.UTC(2026, 0, 31, 12);
/** Labels rows: the smallest table, with a timestamptz column. */
const rows = (n: number, from = 0): LabelsRow[] =>
  Array.from({ length: n }, (_, i) => ({ event_id: `e${from + i}`, label: (from + i) % 2 === 0 ? 0 : 1, labeled_at: new Date(T0 + (from + i) * 1000).toISOString() }));
/** The record a labels row becomes: its JSON with labeled_at in epoch microseconds, and a newline. */
const line = (row: LabelsRow) => `${JSON.stringify({ ...row, labeled_at: Date.parse(row.labeled_at) * 1000 })}\n`;

function sink(client: PutRecordBatchClient, sleeps: number[] = [], maxAttempts = 4) {
  return new FirehoseSink({
    client,
    deliveryStreamName: 'fathom-offline-labels',
    table: LABELS_TABLE,
    maxAttempts,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
}

describe('FirehoseSink', () => {
  it('sends each row as one newline-terminated JSON record in one call', async () => {
    const firehose = new FakeFirehose((call) => call.records.map(() => undefined));
    const summary = await sink(firehose).send(rows(3));
    expect(summary).toEqual({ rows: 3, calls: 1, resent: 0 });
    expect(firehose.calls).toEqual([{ stream: 'fathom-offline-labels', records: rows(3).map(line) }]);
  });

  it('resends only the failed entries of a partial failure, with growing jittered backoff', async () => {
    // Call 1: records 1 and 3 throttled. Call 2: of the two resent, the second (row 3) fails again. Call 3: accepted.
    const firehose = new FakeFirehose((call, n) =>
      n === 1 ? call.records.map((_, i) => (i === 1 || i === 3 ? 'ServiceUnavailableException' : undefined)) : n === 2 ? [undefined, 'InternalFailure'] : [undefined],
    );
    const sleeps: number[] = [];
    const sent = rows(5);
    const summary = await sink(firehose, sleeps).send(sent);
    const [r1, r3] = [line(sent[1]!), line(sent[3]!)];
    expect(firehose.calls.map((c) => c.records)).toEqual([sent.map(line), [r1, r3], [r3]]);
    expect(firehose.accepted.sort()).toEqual(sent.map(line).sort());
    expect(summary).toEqual({ rows: 5, calls: 3, resent: 3 });
    // Full jitter at 0.5 of min(1000, 100 * 2^(n-1)).
    expect(sleeps).toEqual([50, 100]);
  });

  it('throws a retryable error naming the stream and the count when entries keep failing', async () => {
    const firehose = new FakeFirehose((call) => call.records.map((_, i) => (i < 2 ? 'ServiceUnavailableException' : undefined)));
    const sleeps: number[] = [];
    const error = await sink(firehose, sleeps, 4)
      .send(rows(10))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FirehoseDeliveryError);
    expect(error).toBeInstanceOf(ResourceError);
    const e = error as FirehoseDeliveryError;
    expect(e.retryable).toBe(true);
    expect(e.resource).toBe('fathom-offline-labels');
    expect(e.failedRows).toBe(2);
    expect(e.errorCodes).toEqual({ ServiceUnavailableException: 2 });
    expect(e.message).toMatch(/fathom-offline-labels: 2 of 10 rows not accepted after 4 attempts/);
    expect(firehose.calls.map((c) => c.records.length)).toEqual([10, 2, 2, 2]);
    expect(sleeps).toEqual([50, 100, 200]);
  });

  it('caps the backoff at maxDelayMs', async () => {
    const firehose = new FakeFirehose((call) => call.records.map(() => 'ServiceUnavailableException'));
    const sleeps: number[] = [];
    await expect(sink(firehose, sleeps, 7).send(rows(1))).rejects.toBeInstanceOf(FirehoseDeliveryError);
    expect(sleeps).toEqual([50, 100, 200, 400, 500, 500]);
  });

  it('retries a whole call that failed for a retryable reason, and reports it if it never recovers', async () => {
    const unavailable = new ServiceUnavailableException({ message: 'Slow down.', $metadata: { httpStatusCode: 503 } });
    const recovering = new FakeFirehose((call, n) => (n === 1 ? unavailable : call.records.map(() => undefined)));
    expect(await sink(recovering).send(rows(4))).toEqual({ rows: 4, calls: 2, resent: 4 });
    expect(recovering.accepted).toHaveLength(4);

    const down = new FakeFirehose(() => unavailable);
    const error = (await sink(down, [], 3)
      .send(rows(4))
      .catch((e: unknown) => e)) as FirehoseDeliveryError;
    expect(error).toBeInstanceOf(FirehoseDeliveryError);
    expect(error.errorCodes).toEqual({ ServiceUnavailableException: 4 });
    expect(down.calls).toHaveLength(3);
  });

  it('does not retry a call refused for good: the stream does not exist', async () => {
    const missing = new FakeFirehose(() => new ResourceNotFoundException({ message: 'Firehose fathom-offline-labels under account 000000000000 not found.', $metadata: { httpStatusCode: 400 } }));
    const error = (await sink(missing)
      .send(rows(2))
      .catch((e: unknown) => e)) as ResourceError;
    expect(error).toBeInstanceOf(ResourceError);
    expect(error).not.toBeInstanceOf(FirehoseDeliveryError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/fathom-offline-labels.*ResourceNotFoundException/);
    expect(missing.calls).toHaveLength(1);
  });

  it('treats an entry with neither a RecordId nor an ErrorCode as not stored', async () => {
    let first = true;
    const client: PutRecordBatchClient = {
      async send(command) {
        const n = command.input.Records?.length ?? 0;
        if (first) {
          first = false;
          return { FailedPutCount: 1, RequestResponses: Array.from({ length: n }, (_, i) => (i === 0 ? {} : { RecordId: `r${i}` })), $metadata: {} };
        }
        return { FailedPutCount: 0, RequestResponses: Array.from({ length: n }, (_, i) => ({ RecordId: `s${i}` })), $metadata: {} };
      },
    };
    expect(await sink(client).send(rows(3))).toEqual({ rows: 3, calls: 2, resent: 1 });
  });

  it('refuses a row over 1,000 KiB, naming it, before anything is sent', async () => {
    const firehose = new FakeFirehose((call) => call.records.map(() => undefined));
    const big: LabelsRow = { event_id: 'x'.repeat(FIREHOSE_LIMITS.bytesPerRecord), label: 1, labeled_at: '2026-01-31T12:00:00Z' };
    const error = (await sink(firehose)
      .send([...rows(2), big])
      .catch((e: unknown) => e)) as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.field).toBe('rows[2]');
    expect(error.message).toMatch(/rows\[2\] for firehose stream fathom-offline-labels is \d+ bytes.*at most 1024000/);
    expect(firehose.calls).toHaveLength(0);
  });

  it('accepts a row of exactly 1,000 KiB with its newline', async () => {
    const firehose = new FakeFirehose((call) => call.records.map(() => undefined));
    const overhead = line({ event_id: '', label: 1, labeled_at: '2026-01-31T12:00:00.000Z' }).length;
    const exact: LabelsRow = { event_id: 'x'.repeat(FIREHOSE_LIMITS.bytesPerRecord - overhead), label: 1, labeled_at: '2026-01-31T12:00:00.000Z' };
    expect(line(exact).length).toBe(FIREHOSE_LIMITS.bytesPerRecord);
    await sink(firehose).send([exact]);
    expect(firehose.accepted).toHaveLength(1);
  });

  it.each([
    ['not an object', 'event', 'rows[1]'],
    ['null', null, 'rows[1]'],
    ['missing a column', { event_id: 'e1', label: 1 }, 'rows[1].labeled_at'],
    ['holding a value the table refuses', { event_id: 'e1', label: 2, labeled_at: '2026-01-31T12:00:00Z' }, 'rows[1].label'],
    ['holding a column the table does not have', { event_id: 'e1', label: 1, labeled_at: '2026-01-31T12:00:00Z', extra: true }, 'rows[1].extra'],
  ])('refuses a row %s, naming the field, before anything is sent', async (_what, row, field) => {
    const firehose = new FakeFirehose((call) => call.records.map(() => undefined));
    const error = (await sink(firehose)
      .send([rows(1)[0]!, row as LabelsRow])
      .catch((e: unknown) => e)) as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.field).toBe(field);
    expect(error.message).toContain('fathom-offline-labels');
    expect(firehose.calls).toHaveLength(0);
  });

  it('splits into chunks of at most 500 records and 4 MiB', async () => {
    const firehose = new FakeFirehose((call) => call.records.map(() => undefined));
    await sink(firehose).send(rows(1201));
    expect(firehose.calls.map((c) => c.records.length)).toEqual([500, 500, 201]);

    // ~900,000-byte records: four fit in 4 MiB (3.6 MB), a fifth would not.
    const wide: LabelsRow[] = Array.from({ length: 9 }, (_, i) => ({ event_id: `${i}`.padEnd(900_000, 'y'), label: 0, labeled_at: '2026-01-31T12:00:00Z' }));
    const wideFirehose = new FakeFirehose((call) => call.records.map(() => undefined));
    await sink(wideFirehose).send(wide);
    expect(wideFirehose.calls.map((c) => c.records.length)).toEqual([4, 4, 1]);
    for (const call of wideFirehose.calls) expect(call.records.reduce((n, r) => n + Buffer.byteLength(r), 0)).toBeLessThanOrEqual(FIREHOSE_LIMITS.bytesPerBatch);
  });

  it('chunkRecords keeps order and never leaves a chunk empty', () => {
    const records = [3, 4_000_000, 5, 4_194_304, 1].map((n) => new Uint8Array(n));
    const chunks = chunkRecords(records);
    expect(chunks.map((c) => c.map((r) => r.byteLength))).toEqual([[3, 4_000_000, 5], [4_194_304], [1]]);
  });

  it('sends nothing for no rows', async () => {
    const firehose = new FakeFirehose(() => []);
    expect(await sink(firehose).send([])).toEqual({ rows: 0, calls: 0, resent: 0 });
    expect(firehose.calls).toHaveLength(0);
  });
});

describe('Firehose records of a table', () => {
  it('carry timestamptz columns as epoch microseconds and come back as the same row', () => {
    const row = { ...rows(1)[0]!, labeled_at: '2026-01-31T12:00:00.123456Z' };
    const record = toFirehoseRecord(LABELS_TABLE, row);
    expect(record).toEqual({ event_id: 'e0', label: 0, labeled_at: 1_769_860_800_123_456 });
    expect(fromFirehoseRecord(LABELS_TABLE, record, 'record')).toEqual(row);
  });

  it('converts every timestamp column of a wider table, leaving the rest alone', () => {
    const event = {
      event_id: 'e1', entity_id: 'c1', merchant_id: 'm1', amount: 12.5, currency: 'EUR', mcc: 5411, country: 'FR', channel: 'pos',
      event_time: '2026-01-31T12:00:00.000Z', received_at: '2026-01-31T12:00:01.000Z', raw: '{}',
    };
    const record = toFirehoseRecord(EVENTS_TABLE, event);
    expect(record.event_time).toBe(Date.parse(event.event_time) * 1000);
    expect(record.received_at).toBe(Date.parse(event.received_at) * 1000);
    expect({ ...record, event_time: event.event_time, received_at: event.received_at }).toEqual(event);
    expect(fromFirehoseRecord(EVENTS_TABLE, record, 'record')).toEqual(event);
  });

  it('refuses a timestamp that arrives as a string, naming the field', () => {
    expect(() => fromFirehoseRecord(LABELS_TABLE, { event_id: 'e1', label: 1, labeled_at: '2026-01-31T12:00:00Z' }, 'record')).toThrow(
      expect.objectContaining({ field: 'record.labeled_at', message: expect.stringMatching(/epoch microseconds/) }),
    );
    expect(() => fromFirehoseRecord(LABELS_TABLE, { event_id: 'e1', label: 1, labeled_at: 1.5 }, 'record')).toThrow(ValidationError);
  });
});
