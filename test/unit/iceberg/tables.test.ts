import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/core/errors';
import {
  dayFromMicros,
  fileMetrics,
  formatTimestampMicros,
  isoDateOfDay,
  parseRow,
  parseRows,
  parseTimestampMicros,
  partitionOf,
  partitionPath,
  partitionSources,
  toLogicalRow,
  toPhysicalRow,
  type IcebergTableDefinition,
} from '../../../lib/core/iceberg';
import { EVENTS_TABLE, FEATURE_LOG_TABLE, LABELS_TABLE, OFFLINE_TABLES, PREDICTIONS_TABLE, type FeatureLogRow } from '../../../lib/core/offline/tables';

const ids = (table: IcebergTableDefinition<unknown>) => table.schema.fields.map((f) => `${f.id}:${f.name}:${typeof f.type === 'string' ? f.type : `list<${f.type.element}>#${f.type['element-id']}`}`);

describe('offline tables: the frozen contract', () => {
  it('pins every field id, name and type (tables on disk resolve columns by these ids forever)', () => {
    expect(ids(EVENTS_TABLE)).toEqual([
      '1:event_id:string', '2:entity_id:string', '3:merchant_id:string', '4:amount:double', '5:currency:string', '6:mcc:int',
      '7:country:string', '8:channel:string', '9:event_time:timestamptz', '10:received_at:timestamptz', '11:raw:string',
    ]);
    expect(ids(FEATURE_LOG_TABLE)).toEqual([
      '1:event_id:string', '2:entity_id:string', '3:event_time:timestamptz', '4:feature_set:string', '5:features:list<double>#8',
      '6:late:boolean', '7:logged_at:timestamptz',
    ]);
    expect(ids(PREDICTIONS_TABLE)).toEqual([
      '1:request_id:string', '2:event_id:string', '3:entity_id:string', '4:model_name:string', '5:model_version:string', '6:score:double',
      '7:decision:string', '8:feature_set:string', '9:features:list<double>#12', '10:event_time:timestamptz', '11:scored_at:timestamptz',
    ]);
    expect(ids(LABELS_TABLE)).toEqual(['1:event_id:string', '2:label:int', '3:labeled_at:timestamptz']);
    expect(FEATURE_LOG_TABLE.lastColumnId).toBe(8);
    expect(PREDICTIONS_TABLE.lastColumnId).toBe(12);
  });

  it('partitions by day of event time (labels: day of labeled_at), partition field id 1000', () => {
    const specOf = (t: IcebergTableDefinition<unknown>) => t.partitionSpec.fields.map((f) => [f['source-id'], f['field-id'], f.name, f.transform]);
    expect(specOf(EVENTS_TABLE)).toEqual([[9, 1000, 'event_time_day', 'day']]);
    expect(specOf(FEATURE_LOG_TABLE)).toEqual([[3, 1000, 'event_time_day', 'day']]);
    expect(specOf(PREDICTIONS_TABLE)).toEqual([[10, 1000, 'event_time_day', 'day']]);
    expect(specOf(LABELS_TABLE)).toEqual([[3, 1000, 'labeled_at_day', 'day']]);
    expect(Object.keys(OFFLINE_TABLES)).toEqual(['events', 'feature_log', 'predictions', 'labels']);
    for (const table of Object.values(OFFLINE_TABLES)) expect(table.schema.fields.every((f) => f.required)).toBe(true);
  });
});

const featureRow: FeatureLogRow = {
  event_id: 'e1',
  entity_id: 'card-1',
  event_time: '2024-05-01T23:59:59.999999Z',
  feature_set: 'card_fraud.v1',
  features: [1.5, null, -0, 3],
  late: false,
  logged_at: '2024-05-02T00:00:00Z',
};

describe('row validation names the row and field', () => {
  it('accepts a good row and turns NaN features (the engine missing marker) into null', () => {
    const [row] = parseRows(FEATURE_LOG_TABLE, [{ ...featureRow, features: [1, Number.NaN] }]);
    expect(row?.features).toEqual([1, null]);
  });

  it.each([
    [{ ...featureRow, late: 'no' }, 'rows[0].late'],
    [{ ...featureRow, event_time: '2024-05-01 12:00:00' }, 'rows[0].event_time'],
    [{ ...featureRow, event_time: '2024-02-30T00:00:00Z' }, 'rows[0].event_time'],
    [{ ...featureRow, feature_set: 'card_fraud' }, 'rows[0].feature_set'],
    [{ ...featureRow, features: [1, 'x'] }, 'rows[0].features.1'],
    [{ ...featureRow, surprise: 1 }, 'rows[0].surprise'],
    [{ ...featureRow, event_id: undefined }, 'rows[0].event_id'],
  ])('%# rejects with field %s', (input, field) => {
    const result = parseRow(FEATURE_LOG_TABLE, input, 'rows[0]');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(ValidationError);
      expect(result.error.field).toBe(field);
      expect(result.error.message).toContain(`feature_log ${field}`);
    }
  });

  it('parseRows is all or nothing and names the index of the bad row', () => {
    const bad = { event_id: 'e2', label: 2, labeled_at: '2024-05-01T00:00:00Z' };
    expect(() => parseRows(LABELS_TABLE, [{ event_id: 'e1', label: 1, labeled_at: '2024-05-01T00:00:00Z' }, bad])).toThrow(
      expect.objectContaining({ field: 'rows[1].label' }),
    );
    expect(() => parseRows(EVENTS_TABLE, [{ event_id: 'e' }])).toThrow(ValidationError);
    const mcc = parseRow(EVENTS_TABLE, { event_id: 'e', entity_id: 'c', merchant_id: 'm', amount: 1, currency: 'USD', mcc: 1.5, country: 'US', channel: 'pos', event_time: '2024-01-01T00:00:00Z', received_at: '2024-01-01T00:00:00Z', raw: '{}' }, 'rows[4]');
    expect(mcc.ok || mcc.error.field).toBe('rows[4].mcc');
  });
});

describe('timestamps and the day transform', () => {
  it('parses ISO 8601 UTC to microseconds and back, keeping microseconds', () => {
    expect(parseTimestampMicros('1970-01-01T00:00:00Z')).toBe(0n);
    expect(parseTimestampMicros('2024-05-01T12:00:00.123456Z')).toBe(1_714_564_800_123_456n);
    expect(parseTimestampMicros('2024-05-01T12:00:00.123456789Z')).toBe(1_714_564_800_123_456n);
    expect(parseTimestampMicros('2024-05-01T12:00:00.5Z')).toBe(1_714_564_800_500_000n);
    expect(parseTimestampMicros('1969-12-31T23:59:59.999999Z')).toBe(-1n);
    expect(parseTimestampMicros('2024-05-01T12:00:00+02:00')).toBeUndefined();
    expect(parseTimestampMicros('2023-02-29T00:00:00Z')).toBeUndefined();
    expect(formatTimestampMicros(1_714_564_800_123_456n)).toBe('2024-05-01T12:00:00.123456Z');
    expect(formatTimestampMicros(1_714_564_800_123_000n)).toBe('2024-05-01T12:00:00.123Z');
    expect(formatTimestampMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    for (const iso of ['2024-05-01T12:00:00.001002Z', '2000-02-29T23:59:59.999Z', '1960-06-01T00:00:00.000001Z']) {
      expect(formatTimestampMicros(parseTimestampMicros(iso) ?? 0n)).toBe(iso);
    }
  });

  it('day is the floor of days since the epoch, before 1970 too', () => {
    expect(dayFromMicros(0n)).toBe(0);
    expect(dayFromMicros(86_400_000_000n - 1n)).toBe(0);
    expect(dayFromMicros(-1n)).toBe(-1);
    expect(dayFromMicros(parseTimestampMicros('2024-05-01T23:59:59.999999Z') ?? 0n)).toBe(19844);
    expect(isoDateOfDay(19844)).toBe('2024-05-01');
    expect(isoDateOfDay(-1)).toBe('1969-12-31');
  });

  it('partitions a physical row and names its folder as the reference implementation does', () => {
    const physical = toPhysicalRow(FEATURE_LOG_TABLE, featureRow);
    expect(physical['event_time']).toBe(1_714_607_999_999_999n);
    const tuple = partitionOf(partitionSources(FEATURE_LOG_TABLE.schema, FEATURE_LOG_TABLE.partitionSpec, 'feature_log'), physical);
    expect(tuple).toEqual({ event_time_day: 19844 });
    expect(partitionPath(tuple)).toBe('event_time_day=2024-05-01');
    expect(toLogicalRow(FEATURE_LOG_TABLE, physical)).toEqual({ ...featureRow, logged_at: '2024-05-02T00:00:00.000Z' });
  });
});

describe('column metrics', () => {
  it('counts values and nulls, bounds int/double/timestamptz little-endian, -0 before +0', () => {
    const rows = [
      toPhysicalRow(PREDICTIONS_TABLE, { request_id: 'r1', event_id: 'e1', entity_id: 'c', model_name: 'm', model_version: '1', score: 0, decision: 'pass', feature_set: 'card_fraud.v1', features: [], event_time: '2024-05-01T00:00:00Z', scored_at: '2024-05-01T00:00:01Z' }),
      toPhysicalRow(PREDICTIONS_TABLE, { request_id: 'r2', event_id: 'e2', entity_id: 'c', model_name: 'm', model_version: '1', score: -0, decision: 'flag', feature_set: 'card_fraud.v1', features: [1], event_time: '2024-05-01T10:00:00Z', scored_at: '2024-05-01T10:00:01Z' }),
    ];
    const m = fileMetrics(PREDICTIONS_TABLE as IcebergTableDefinition<unknown>, rows);
    expect(m.value_counts.find((c) => c.key === 1)?.value).toBe(2);
    expect(m.value_counts.some((c) => c.key === 9)).toBe(false); // no metrics for lists
    expect(m.nan_value_counts).toEqual([{ key: 6, value: 0 }]);
    const lower = m.lower_bounds.find((b) => b.key === 6)?.value ?? new Uint8Array();
    const upper = m.upper_bounds.find((b) => b.key === 6)?.value ?? new Uint8Array();
    expect(Object.is(new DataView(lower.buffer).getFloat64(0, true), -0)).toBe(true);
    expect(Object.is(new DataView(upper.buffer).getFloat64(0, true), 0)).toBe(true);
    const t = m.upper_bounds.find((b) => b.key === 10)?.value ?? new Uint8Array();
    expect(new DataView(t.buffer).getBigInt64(0, true)).toBe(parseTimestampMicros('2024-05-01T10:00:00Z'));
    expect(m.lower_bounds.some((b) => b.key === 1)).toBe(false); // strings get no bounds
  });
});
