// Training rows from generated events, until the offline store's feature_log provides them: the
// batch driver computes f(S, e) for every event exactly as serving would have seen it (the parity
// test holds the stream to the same vectors), and each row gets its event's label and time.
import { FeatureEngine, referenceFeatureSet, runBatch } from '../features';
import type { GeneratedEvent } from '../generator';
import type { TimedEvent } from '../schemas/event';
import type { TrainingMatrix } from './matrix';

/**
 * One row per event, in event-time order (ties by event id: the batch driver's order). Duplicate
 * event ids keep their first occurrence, as the driver does.
 */
export function rowsFromWorkload(events: Iterable<GeneratedEvent>, engine: FeatureEngine = new FeatureEngine(referenceFeatureSet)): TrainingMatrix {
  const timed: TimedEvent[] = [];
  const labels = new Map<string, 0 | 1>();
  for (const g of events) {
    // The generator is an in-process source typed as Event, not an edge: the time is parsed here
    // without a schema pass, which would double the cost of building a large training set.
    timed.push({ ...g.event, ts: Date.parse(g.event.event_time) });
    if (!labels.has(g.event.event_id)) labels.set(g.event.event_id, g.label);
  }
  const f = engine.names.length;
  const x = new Float32Array(timed.length * f);
  const label = new Uint8Array(timed.length);
  const eventTime = new Float64Array(timed.length);
  const eventIds: string[] = [];
  let rows = 0;
  runBatch(engine, timed, (v) => {
    // Float32, as the ONNX model reads it: the trainer sees exactly what serving will.
    x.set(v.values, rows * f);
    label[rows] = labels.get(v.eventId)!;
    eventTime[rows] = v.ts;
    eventIds.push(v.eventId);
    rows++;
  });
  return {
    features: [...engine.names],
    rows,
    x: rows * f === x.length ? x : x.slice(0, rows * f),
    label: rows === label.length ? label : label.slice(0, rows),
    eventTime: rows === eventTime.length ? eventTime : eventTime.slice(0, rows),
    eventIds,
  };
}
