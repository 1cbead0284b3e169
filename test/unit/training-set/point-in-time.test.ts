import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors';
import { chooseFeatureSet, compareCodePoints, compareVectors, pointInTimeJoin, type FeatureLogEntry, type LabelEntry } from '../../../lib/core/training-set';

const row = (event_id: string, t: number, extra: Partial<FeatureLogEntry> = {}): FeatureLogEntry => ({
  event_id,
  entity_id: 'c1',
  event_time_us: t,
  feature_set: 'card_fraud.v1',
  features: [t, null],
  late: false,
  logged_at_us: t + 5,
  ...extra,
});
const label = (event_id: string, value: 0 | 1, at: number): LabelEntry => ({ event_id, label: value, labeled_at_us: at });
const rules = { fromUs: 100, toUs: 200, cutoffUs: 1000 };

describe('point-in-time rules (in memory)', () => {
  it('uses only labels known at the cutoff; the latest known wins; later ones never leak', () => {
    const r = pointInTimeJoin(
      [row('a', 110), row('b', 120), row('c', 130), row('d', 140), row('e', 150)],
      [
        label('a', 0, 500),
        label('a', 1, 1001), // after the cutoff: ignored
        label('b', 1, 1001), // only after the cutoff: b is dropped
        label('c', 1, 400),
        label('c', 0, 600), // overturned before the cutoff: 0
        label('d', 0, 1000), // exactly at the cutoff: known
        label('d', 1, 1000), // same instant: 1 wins
        label('x', 1, 10), // an event not in range
      ],
      rules,
    );
    expect(r.rows.map((x) => [x.event_id, x.label])).toEqual([
      ['a', 0],
      ['c', 0],
      ['d', 1],
    ]);
    expect(r.counts).toMatchObject({ events: 5, unlabeled: 2, labeled_only_after_cutoff: 1, label_rows_after_cutoff: 2, conflicting_labels: 2, rows: 3, positives: 1 });
  });

  it('keeps events in [from, to) only, one row per event id, on-time before late, first logged first', () => {
    const r = pointInTimeJoin(
      [
        row('early', 99),
        row('late-end', 200),
        row('a', 150, { late: true, features: [9, 9], logged_at_us: 1 }),
        row('a', 150, { logged_at_us: 300 }),
        row('a', 150, { logged_at_us: 200 }),
        row('b', 160),
        row('b', 160, { logged_at_us: 999 }),
      ],
      [label('early', 1, 1), label('late-end', 1, 1), label('a', 1, 1), label('b', 0, 1)],
      rules,
    );
    expect(r.rows).toEqual([
      { event_id: 'a', event_time_us: 150, label: 1, features: [150, null] },
      { event_id: 'b', event_time_us: 160, label: 0, features: [160, null] },
    ]);
    // a's repeats disagree (one is late, with other values); b's are the same row logged twice.
    expect(r.counts).toMatchObject({ feature_log_rows: 5, duplicate_rows: 3, conflicting_duplicates: 1, events: 2 });
    expect(r.conflictExamples).toEqual(['a']);
  });

  it('orders rows by event time, then event id in code-point order', () => {
    const ids = ['b', 'a', '\u{1F600}', '\uFF5E', 'A'];
    const r = pointInTimeJoin(
      ids.map((id) => row(id, 150)),
      ids.map((id) => label(id, 0, 1)),
      rules,
    );
    expect(r.rows.map((x) => x.event_id)).toEqual(['A', 'a', 'b', '\uFF5E', '\u{1F600}']);
  });

  it('uses one feature set: the only one, the one named, never a guess between several', () => {
    expect(chooseFeatureSet({ 'card_fraud.v1': 3 }, undefined)).toBe('card_fraud.v1');
    expect(() => chooseFeatureSet({ 'card_fraud.v1': 3, 'card_fraud.v2': 1 }, undefined)).toThrow(/several feature sets \(card_fraud\.v1 \(3 rows\), card_fraud\.v2 \(1 rows\)\)/);
    expect(chooseFeatureSet({ 'card_fraud.v1': 3, 'card_fraud.v2': 1 }, 'card_fraud.v2')).toBe('card_fraud.v2');
    expect(() => chooseFeatureSet({ 'card_fraud.v1': 3 }, 'card_fraud.v9')).toThrow(ConfigError);
    expect(() => chooseFeatureSet({}, undefined)).toThrow(/no rows in the range/);
    const r = pointInTimeJoin([row('a', 150), row('a', 150, { feature_set: 'card_fraud.v2', features: [1] })], [label('a', 1, 1)], { ...rules, featureSet: 'card_fraud.v1' });
    expect(r.counts.other_feature_sets).toEqual({ 'card_fraud.v2': 1 });
    expect(r.counts.duplicate_rows).toBe(0);
  });

  it('compares vectors and strings as DuckDB orders them', () => {
    const sorted = [[0, 0], [-0, 1], [0.5, 3], [1], [1, 2], [1, null], [null, 0]] as (number | null)[][];
    expect([...sorted].reverse().sort(compareVectors)).toEqual(sorted);
    expect(compareCodePoints('\uFF5E', '\u{1F600}')).toBeLessThan(0);
    expect('\uFF5E' < '\u{1F600}').toBe(false);
  });
});
