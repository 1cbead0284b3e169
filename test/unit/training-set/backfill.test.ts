import { describe, expect, it } from 'vitest';
import { DAY_MS, FeatureEngine, referenceFeatureSet } from '../../../lib/core/features';
import { featureLogRowsOf, planBackfill } from '../../../lib/core/training-set';

describe('backfill planning', () => {
  it('replays two longest spans and two days before the range, from a day boundary', () => {
    const engine = new FeatureEngine(referenceFeatureSet);
    expect(engine.longestSpanMs).toBe(30 * DAY_MS);
    const from = Date.UTC(2026, 2, 10, 6);
    const plan = planBackfill(from, from + DAY_MS, engine.longestSpanMs);
    expect(new Date(plan.windowStartMs).toISOString()).toBe('2026-01-07T00:00:00.000Z');
    expect(plan.fullCardHistory).toBe(true);
    expect(planBackfill(from, from + DAY_MS, engine.longestSpanMs, 'window').fullCardHistory).toBe(false);
  });

  it('writes the rows of the range as the stream logs them (missing as null, never late)', () => {
    const plan = planBackfill(1000, 2000, DAY_MS);
    const rows = featureLogRowsOf(
      [
        { entityId: 'c', eventId: 'before', ts: 999, values: [1], late: false },
        { entityId: 'c', eventId: 'in', ts: 1000, values: [Number.NaN, 2], late: false },
        { entityId: 'c', eventId: 'after', ts: 2000, values: [1], late: false },
      ],
      plan,
      'card_fraud.v1',
      '2026-01-01T00:00:00.000Z',
    );
    expect(rows).toEqual([
      { event_id: 'in', entity_id: 'c', event_time: '1970-01-01T00:00:01.000Z', feature_set: 'card_fraud.v1', features: [null, 2], late: false, logged_at: '2026-01-01T00:00:00.000Z' },
    ]);
  });
});
