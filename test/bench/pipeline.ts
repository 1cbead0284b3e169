// Pipeline benchmark: (1) the feature engine alone, events/s on one core, beside a bare
// aggregation loop over the same events; (2) the feature-transform handler writing into dynalite,
// items/s, beside raw BatchWriteItem of the same items to the same dynalite, with the handler's
// read and conditional write each alone.
import { performance } from 'node:perf_hooks';
import { FeatureEngine, referenceFeatureSet, runBatch, IncrementalDriver, MINUTE_MS, type EntityVector } from '../../lib/core/features';
import { generateWorkload } from '../../lib/core/generator';
import { parseStreamEvent, type TimedEvent } from '../../lib/core/schemas/event';
import { handlerPathBench } from './pipeline-handler';

const log = (s: string) => process.stderr.write(`[bench pipeline] ${s}\n`);

function events(n: number): TimedEvent[] {
  const out: TimedEvent[] = [];
  for (const g of generateWorkload({ seed: 1, events: n, days: 30 })) {
    const r = parseStreamEvent(g.event);
    if (r.ok) out.push(r.value);
  }
  return out;
}

/** Best of `runs` wall-clock timings: the least-disturbed run on a shared machine. */
function best(runs: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min / 1000;
}

export async function run(opts: Record<string, string | undefined>) {
  const only = opts['only'];
  if (only === 'handler') return { handler: await handlerPathBench({ batches: Number(opts['batches'] ?? 20), log }) };
  const n = Number(opts['events'] ?? 200_000);
  log(`generating ${n} events`);
  const evs = events(n);
  const engine = new FeatureEngine(referenceFeatureSet, { allowedLatenessMs: 5 * MINUTE_MS });

  log('engine: baseline, batch driver, incremental driver');
  // Baseline: the least work any per-card aggregation must do — a map lookup and two adds per event.
  let sink = 0;
  const baseline = best(5, () => {
    const m = new Map<string, { n: number; s: number }>();
    for (const e of evs) {
      let a = m.get(e.entity_id);
      if (!a) m.set(e.entity_id, (a = { n: 0, s: 0 }));
      a.n++;
      a.s += e.amount;
    }
    sink += m.size;
  });
  // The engine's output goes to a sink, as the stream's and the training-set builder's do (to
  // Firehose, to Parquet): collecting 200k vectors in one array would time the collector's
  // promotion of them, not the engine. The checksum keeps every vector's values in use.
  let checksum = 0;
  const fold = (v: EntityVector) => {
    checksum += v.values[0]! + v.values.length;
  };
  const runBatchOnce = () => runBatch(engine, evs, fold);
  const runIncremental = () => {
    const d = new IncrementalDriver(engine, fold);
    d.ingestAll(evs);
    d.flush();
  };
  const runEventByEvent = () => {
    const d = new IncrementalDriver(engine, fold);
    for (const e of evs) d.ingest(e);
    d.flush();
  };
  // One untimed run of each first: what is timed is the optimised code a warm Lambda runs.
  runBatchOnce();
  runIncremental();
  runEventByEvent();
  // Best of 5: on a shared machine (a 2-core VM here) one run in three can lose a fifth to a
  // neighbour; the baseline above gets the same treatment.
  const batch = best(5, runBatchOnce);
  const incremental = best(5, runIncremental);
  const eventByEvent = best(5, runEventByEvent);
  const rate = (s: number) => Math.round(evs.length / s);
  const engineResult = {
    events: evs.length,
    features: engine.names.length,
    baseline_map_aggregate_events_per_s: rate(baseline),
    batch_driver_events_per_s: rate(batch),
    incremental_driver_events_per_s: rate(incremental),
    incremental_driver_event_by_event_events_per_s: rate(eventByEvent),
    goal_events_per_s: 200_000,
    meets_goal: rate(incremental) >= 200_000 && rate(batch) >= 200_000,
    sink: sink + checksum,
  };
  log(JSON.stringify(engineResult));

  if (only === 'engine') return { engine: engineResult };
  const handler = await handlerPathBench({ batches: Number(opts['batches'] ?? 20), log });
  return { engine: engineResult, handler };
}
