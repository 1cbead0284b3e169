import { describe, expect, it } from 'vitest';
import { FeatureEngine, referenceFeatureSet, runBatch } from '../../../lib/core/features';
import { generateWorkload } from '../../../lib/core/generator';
import { rowsFromWorkload } from '../../../lib/core/training';

describe('training rows from a generated workload', () => {
  it('holds one float32 feature vector per event, in time order, with its label', () => {
    const events = [...generateWorkload({ seed: 3, events: 4000, days: 4 })];
    const m = rowsFromWorkload(events);
    const engine = new FeatureEngine(referenceFeatureSet);
    expect(m.features).toEqual(engine.names);
    expect(m.rows).toBe(events.length);
    const f = m.features.length;
    for (let r = 1; r < m.rows; r++) expect(m.eventTime[r]).toBeGreaterThanOrEqual(m.eventTime[r - 1]!);

    const byId = new Map(events.map((g) => [g.event.event_id as string, g]));
    const reference = runBatch(engine, events.map((g) => ({ ...g.event, ts: Date.parse(g.event.event_time) }))).vectors;
    let positives = 0;
    reference.forEach((v, r) => {
      expect(m.eventIds![r]).toBe(v.eventId);
      expect(m.eventTime[r]).toBe(Date.parse(byId.get(v.eventId)!.event.event_time));
      expect(m.label[r]).toBe(byId.get(v.eventId)!.label);
      expect(Array.from(m.x.subarray(r * f, (r + 1) * f))).toEqual(v.values.map(Math.fround));
      positives += m.label[r]!;
    });
    expect(positives).toBeGreaterThan(0);
  });
});
