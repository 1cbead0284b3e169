// Scoring benchmark. (1) One request through the whole in-process scoring path — body parse, the
// model lease, an in-memory online store read, state deserialisation, the engine's f(S, e),
// onnxruntime, reason codes, the JSON answer — beside a bare `session.run` of the same model on the
// same row, interleaved in the same run: p50/p99 in µs. Two more figures, each labelled, beside
// that headline: the path over card states as the stream leaves them (their newest events still in
// the reorder buffer, as the online store holds them; the headline's states are flushed), and the
// bare run cycling through the requests' own rows (a different row each time takes onnxruntime down
// different tree paths and costs it more than one row again and again). Where the path's time
// goes is reported twice: each step alone in a loop, and the same steps timed inside the path
// (a second service over timing wrappers of the model runtime, the scorer's features and the
// store): inside the path each step runs with the caches the other steps left, and costs more
// than alone; and the bare run timed right after each step run alone, which shows onnxruntime's
// per-call cost rising with the JS work done between two runs. (2) Batched scoring,
// rows/s, beside a bare batched `session.run`. The model is trained here on the reference workload
// and exported by the project's own exporter, so its size is a real model's.
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { OnnxModelRuntime } from '../../lib/adapters/model-runner';
import { ModelCache } from '../../lib/adapters/scoring/model-cache';
import { ScoringService } from '../../lib/adapters/scoring/service';
import { FeatureEngine, IncrementalDriver, referenceFeatureSet, serializeCard, serializeMerchant } from '../../lib/core/features';
import type { Manifest, ModelName, ModelVersion } from '../../lib/core/models/manifest';
import type { LoadedModel, ModelRuntime, ModelVersionRecord, RegistryReader, VerifiedPackage } from '../../lib/core/models/ports';
import type { StoredEntity } from '../../lib/core/pipeline/ports';
import { assertServable, entityKeysFor, ModelRouter, parseScoreBody, Scorer, type EntityItems, type FeatureRow, type ScoreInput } from '../../lib/core/scoring';
import type { TimedEvent } from '../../lib/core/schemas/event';
import { topReasons } from '../../lib/core/models/contributions';
import { manifestOf, trainScoringModel } from '../support/scoring-model';

const log = (s: string) => process.stderr.write(`[bench scoring] ${s}\n`);

const MODEL = 'card-fraud' as ModelName;

/** A registry that always serves one package: the model is loaded before timing starts. */
class OnePackageRegistry implements RegistryReader {
  constructor(private readonly pkg: VerifiedPackage) {}
  async productionVersion(): Promise<ModelVersion> {
    return this.pkg.manifest.version;
  }
  async loadVerifiedPackage(): Promise<VerifiedPackage> {
    return this.pkg;
  }
  async getVersion(): Promise<ModelVersionRecord | undefined> {
    return undefined;
  }
  async listVersions(): Promise<ModelVersionRecord[]> {
    return [];
  }
}

/** The online store's read, from memory: what remains is the path's own work. */
class MemoryStore {
  constructor(private readonly items: ReadonlyMap<string, StoredEntity>) {}
  async getMany(pks: readonly string[]): Promise<Map<string, StoredEntity>> {
    const out = new Map<string, StoredEntity>();
    for (const pk of pks) {
      const item = this.items.get(pk);
      if (item) out.set(pk, item);
    }
    return out;
  }
}

/** Per request, the time each timed step took inside the path (ms); the service's own share is the rest. */
class InPathTimes {
  store = 0;
  features = 0;
  session = 0;
  contributions = 0;
  reset(): void {
    this.store = this.features = this.session = this.contributions = 0;
  }
}

/** The runtime's models, each call timed into `times`: onnxruntime (its hop through the event loop included) and the contributions walk. */
class TimedRuntime implements ModelRuntime {
  constructor(
    private readonly inner: ModelRuntime,
    private readonly times: InPathTimes,
  ) {}
  async load(pkg: VerifiedPackage): Promise<LoadedModel> {
    const model = await this.inner.load(pkg);
    const times = this.times;
    return {
      featureCount: model.featureCount,
      async score(rows, count) {
        const t = performance.now();
        const out = await model.score(rows, count);
        times.session += performance.now() - t;
        return out;
      },
      contributions(row) {
        const t = performance.now();
        const out = model.contributions(row);
        times.contributions += performance.now() - t;
        return out;
      },
      release: () => model.release(),
    };
  }
}

/** The scorer with its features step (state deserialisation and the engine's f(S, e)) timed. */
class TimedScorer extends Scorer {
  constructor(
    engine: FeatureEngine,
    private readonly times: InPathTimes,
  ) {
    super(engine);
  }
  override features(event: TimedEvent, items: EntityItems): FeatureRow {
    const t = performance.now();
    const row = super.features(event, items);
    this.times.features += performance.now() - t;
    return row;
  }
}

class TimedStore extends MemoryStore {
  constructor(
    items: ReadonlyMap<string, StoredEntity>,
    private readonly times: InPathTimes,
  ) {
    super(items);
  }
  override getMany(pks: readonly string[]): Promise<Map<string, StoredEntity>> {
    const t = performance.now();
    const out = super.getMany(pks);
    this.times.store += performance.now() - t;
    return out;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Stats {
  readonly n: number;
  readonly p50_us: number;
  readonly p90_us: number;
  readonly p99_us: number;
  readonly max_us: number;
}

function summary(samplesMs: number[]): Stats {
  const s = Float64Array.from(samplesMs).sort();
  const us = (ms: number) => Math.round(ms * 1000 * 10) / 10;
  return { n: s.length, p50_us: us(percentile(s, 0.5)), p90_us: us(percentile(s, 0.9)), p99_us: us(percentile(s, 0.99)), max_us: us(s[s.length - 1]!) };
}

export async function run(opts: Record<string, string | undefined>) {
  const requests = Number(opts['requests'] ?? 20_000);
  const trees = Number(opts['trees'] ?? 200);
  const events = Number(opts['events'] ?? 30_000);
  const engine = new FeatureEngine(referenceFeatureSet);

  log(`training a ${trees}-tree depth-6 model on ${events} generated events`);
  const model = trainScoringModel({ events, trees, maxDepth: 6 }, engine);
  const manifest: Manifest = { ...manifestOf(model, { version: '1' }), signature: { key_id: 'local:bench', algorithm: 'ECDSA_SHA_256', value: 'AA==' } };

  log('building entity states (the stream over the whole workload) and request bodies');
  const driver = new IncrementalDriver(engine);
  for (const g of model.events) driver.ingest({ ...g.event, ts: Date.parse(g.event.event_time) });
  // What the online store holds after the stream: the stream never flushes, so a card's newest
  // events are still buffered and every request applies them. (Serialising prunes, as the stream's
  // own writes do.)
  const streamItems = new Map<string, StoredEntity>();
  for (const [id, card] of driver.cards) streamItems.set(`card#${id}`, { pk: `card#${id}`, kind: 'card', state: serializeCard(engine, card), version: 1 });
  for (const [id, m] of driver.merchants) streamItems.set(`merchant#${id}`, { pk: `merchant#${id}`, kind: 'merchant', state: serializeMerchant(engine, m), version: 1 });
  driver.flush();
  const items = new Map<string, StoredEntity>();
  for (const [id, card] of driver.cards) items.set(`card#${id}`, { pk: `card#${id}`, kind: 'card', state: serializeCard(engine, card), version: 1 });
  for (const [id, m] of driver.merchants) items.set(`merchant#${id}`, { pk: `merchant#${id}`, kind: 'merchant', state: serializeMerchant(engine, m), version: 1 });
  // Requests: each card's last event again, a minute later, under a new id: a known card at a known merchant.
  const last = new Map<string, (typeof model.events)[number]['event']>();
  for (const g of model.events) last.set(g.event.entity_id, g.event);
  const bodies = [...last.values()].slice(0, 2000).map((e, i) =>
    JSON.stringify({ model: MODEL, event: { ...e, event_id: `bench-${i}`, event_time: new Date(Date.parse(e.event_time) + 60_000).toISOString() } }),
  );
  const meanBytes = (m: ReadonlyMap<string, StoredEntity>) => [...m.values()].reduce((n, it) => n + it.state.length, 0) / m.size;
  const stateBytes = meanBytes(items);

  // The bare session gets OnnxModelRuntime's own settings.
  const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  const cache = new ModelCache({ registry: new OnePackageRegistry({ manifest, onnx: model.onnx }), router: new ModelRouter({ cpu: new OnnxModelRuntime() }), accept: (m) => assertServable(m, engine) });
  const scorer = new Scorer(engine);
  const store = new MemoryStore(items);
  const service = new ScoringService({ scorer, models: cache, store, defaultModel: MODEL });
  const streamService = new ScoringService({ scorer, models: cache, store: new MemoryStore(streamItems), defaultModel: MODEL });
  const bare = await ort.InferenceSession.create(model.onnx, sessionOptions);
  // The same path over timing wrappers, with its own cache (a second session of the same model).
  const times = new InPathTimes();
  const timedCache = new ModelCache({
    registry: new OnePackageRegistry({ manifest, onnx: model.onnx }),
    router: new ModelRouter({ cpu: new TimedRuntime(new OnnxModelRuntime(), times) }),
    accept: (m) => assertServable(m, engine),
  });
  const timedService = new ScoringService({ scorer: new TimedScorer(engine, times), models: timedCache, store: new TimedStore(items, times), defaultModel: MODEL });

  // The same row for the bare run: the first request's vector.
  const first = parseScoreBody(bodies[0]);
  if (!first.ok) throw first.error;
  const keys = entityKeysFor(first.value.event);
  const firstItems = await store.getMany([keys.card, keys.merchant]);
  const row = Float32Array.from(scorer.features(first.value.event, { card: firstItems.get(keys.card), merchant: firstItems.get(keys.merchant) }).values);
  const feeds = { features: new ort.Tensor('float32', row, [1, row.length]) };
  // Every request's own row, each in its tensor ahead of time, so the bare run stays bare.
  const requestFeeds: { features: ort.Tensor }[] = [];
  for (const body of bodies) {
    const r = parseScoreBody(body);
    if (!r.ok) throw r.error;
    const k = entityKeysFor(r.value.event);
    const got = await store.getMany([k.card, k.merchant]);
    const values = Float32Array.from(scorer.features(r.value.event, { card: got.get(k.card), merchant: got.get(k.merchant) }).values);
    requestFeeds.push({ features: new ort.Tensor('float32', values, [1, values.length]) });
  }

  let sink = 0;
  const path = async (i: number) => {
    const answer = await service.score(bodies[i % bodies.length], `req-${i}`);
    sink += JSON.stringify(answer).length;
  };
  const bareRun = async () => {
    const out = await bare.run(feeds);
    sink += (out['score']!.data as Float32Array)[0]!;
  };
  const streamPath = async (i: number) => {
    const answer = await streamService.score(bodies[i % bodies.length], `req-${i}`);
    sink += JSON.stringify(answer).length;
  };
  const bareRequestRow = async (i: number) => {
    const out = await bare.run(requestFeeds[i % requestFeeds.length]!);
    sink += (out['score']!.data as Float32Array)[0]!;
  };
  const inPath = { store: [] as number[], features: [] as number[], session: [] as number[], contributions: [] as number[], rest: [] as number[] };
  let recording = false;
  const timedPath = async (i: number) => {
    times.reset();
    const t = performance.now();
    const answer = await timedService.score(bodies[i % bodies.length], `req-${i}`);
    sink += JSON.stringify(answer).length;
    const total = performance.now() - t;
    if (!recording) return;
    inPath.store.push(times.store);
    inPath.features.push(times.features);
    inPath.session.push(times.session);
    inPath.contributions.push(times.contributions);
    // Parsing the body, the lease, topReasons, the answer and its JSON, and the awaits between them.
    inPath.rest.push(total - times.store - times.features - times.session - times.contributions);
  };

  log('warming up');
  for (let i = 0; i < 2000; i++) {
    await path(i);
    await bareRun();
    await streamPath(i);
    await bareRequestRow(i);
    await timedPath(i);
  }
  recording = true;

  log(`timing ${requests} requests and ${requests} bare runs of each kind, interleaved in blocks of 500`);
  const timed: { fn: (i: number) => Promise<void>; ms: number[] }[] = [bareRun, path, bareRequestRow, streamPath, timedPath].map((fn) => ({ fn, ms: [] }));
  for (let done = 0; done < requests; done += 500) {
    for (const { fn, ms } of timed) {
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await fn(done + i);
        ms.push(performance.now() - t);
      }
    }
  }
  const [bareStats, pathStats, bareRowsStats, streamStats, timedStats] = timed.map(({ ms }) => summary(ms)) as [Stats, Stats, Stats, Stats, Stats];
  const inPathP50 = Object.fromEntries(Object.entries(inPath).map(([step, ms]) => [`${step}_us`, summary(ms).p50_us]));

  // Where the path's time goes: each step alone over the same bodies, every call timed, the p50
  // reported (the mean of a loop is dominated by GC pauses and, on a shared machine, neighbours).
  log('breaking the path down');
  const lease = await cache.acquire(MODEL);
  const n = 5000;
  const p50 = async (fn: (i: number) => unknown): Promise<number> => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn(i);
      ms.push(performance.now() - t);
    }
    return summary(ms).p50_us;
  };
  const parsed = bodies.map((body) => {
    const r = parseScoreBody(body);
    if (!r.ok) throw r.error;
    return r.value;
  });
  const inputsOf = async (from: MemoryStore): Promise<ScoreInput[]> =>
    Promise.all(
      parsed.map(async ({ event }, i) => {
        const k = entityKeysFor(event);
        const got = await from.getMany([k.card, k.merchant]);
        return { requestId: `b-${i}`, event, items: { card: got.get(k.card), merchant: got.get(k.merchant) } };
      }),
    );
  const inputs = await inputsOf(store);
  const streamInputs = await inputsOf(new MemoryStore(streamItems));
  const rows = inputs.map((inp) => scorer.features(inp.event, inp.items).values);
  const rows32 = rows.map((r) => Float32Array.from(r));
  const answers = await Promise.all(inputs.map((inp) => scorer.score(inp, lease)));
  const at = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
  const steps = {
    parse_us: await p50((i) => parseScoreBody(at(bodies, i))),
    store_read_us: await p50((i) => {
      const k = entityKeysFor(at(parsed, i).event);
      return store.getMany([k.card, k.merchant]);
    }),
    features_us: await p50((i) => scorer.features(at(inputs, i).event, at(inputs, i).items)),
    features_stream_state_us: await p50((i) => scorer.features(at(streamInputs, i).event, at(streamInputs, i).items)),
    session_us: await p50((i) => lease.model.score(at(rows32, i), 1)),
    reasons_us: await p50((i) => topReasons(lease.model.contributions(at(rows32, i))!, manifest.features, at(rows, i))),
    answer_json_us: await p50((i) => JSON.stringify(at(answers, i))),
  };
  // The bare run again, each one right after one step of the path run untimed (on the next
  // request's input): what that step's work does to onnxruntime's next run. Interleaved step by
  // step in blocks, so the machine's slow spells fall on every column alike.
  log("onnxruntime's bare run after each path step");
  const before: Record<string, (i: number) => unknown> = {
    nothing: () => undefined,
    parse: (i) => parseScoreBody(at(bodies, i)),
    features: (i) => scorer.features(at(inputs, i).event, at(inputs, i).items),
    contributions: (i) => lease.model.contributions(at(rows32, i)),
    answer_json: (i) => JSON.stringify(at(answers, i)),
    // Every step of a request but the model run, in order: the JS work that separates two runs in the path.
    all_steps_but_the_run: async (i) => {
      const r = parseScoreBody(at(bodies, i));
      if (!r.ok) throw r.error;
      const k = entityKeysFor(r.value.event);
      const got = await store.getMany([k.card, k.merchant]);
      const row = scorer.features(r.value.event, { card: got.get(k.card), merchant: got.get(k.merchant) });
      const x = Float32Array.from(row.values);
      return JSON.stringify({ ...at(answers, i), reasons: topReasons(lease.model.contributions(x)!, manifest.features, row.values) });
    },
  };
  const afterMs: Record<string, number[]> = Object.fromEntries(Object.keys(before).map((k) => [k, []]));
  for (let block = 0; block < 10; block++) {
    for (const [step, fn] of Object.entries(before)) {
      for (let i = 0; i < 500; i++) {
        await fn(block * 500 + i);
        const t = performance.now();
        await bareRun();
        if (block > 0) afterMs[step]!.push(performance.now() - t);
      }
    }
  }
  const bareAfterStep = Object.fromEntries(Object.entries(afterMs).map(([step, ms]) => [`${step}_us`, summary(ms).p50_us]));
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

  log('batched scoring');
  const batch = 1000;
  const batchInputs = inputs.slice(0, batch);
  const batchRows = new Float32Array(batch * row.length);
  rows.slice(0, batch).forEach((r, i) => batchRows.set(r, i * row.length));
  const batchFeeds = { features: new ort.Tensor('float32', batchRows, [batch, row.length]) };
  const best = async (runs: number, fn: () => Promise<void>) => {
    let min = Infinity;
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      await fn();
      min = Math.min(min, performance.now() - s);
    }
    return min / 1000;
  };
  const batchPath = await best(10, async () => {
    sink += (await scorer.scoreBatch(batchInputs, lease)).length;
  });
  const batchBare = await best(10, async () => {
    sink += ((await bare.run(batchFeeds))['score']!.data as Float32Array).length;
  });
  lease.release();
  await bare.release();
  await cache.close();
  await timedCache.close();

  const result = {
    model: { trees: model.ensemble.trees.length, max_depth: 6, features: row.length, onnx_bytes: model.onnx.length },
    state: { entities: items.size, mean_state_bytes: Math.round(stateBytes), mean_stream_state_bytes: Math.round(meanBytes(streamItems)) },
    single_request: {
      scoring_path: pathStats,
      bare_session_run: bareStats,
      p50_ratio: ratio(pathStats.p50_us, bareStats.p50_us),
      p99_ratio: ratio(pathStats.p99_us, bareStats.p99_us),
      goal_p50_ratio: 3,
      meets_goal: pathStats.p50_us <= 3 * bareStats.p50_us,
      // The same path over the states the stream leaves (newest events still buffered), against the same bare run.
      stream_states: { scoring_path: streamStats, p50_ratio: ratio(streamStats.p50_us, bareStats.p50_us), meets_goal: streamStats.p50_us <= 3 * bareStats.p50_us },
      // The bare run over the requests' own rows, one after another, rather than one row again and again.
      bare_session_run_request_rows: { ...bareRowsStats, scoring_path_p50_ratio: ratio(pathStats.p50_us, bareRowsStats.p50_us) },
      breakdown_p50_us: steps,
      // The same steps timed inside the path (the timed service's own p50 beside them); `rest_us` is
      // the body's parse, the lease, topReasons, the answer and its JSON, and the awaits between.
      in_path_p50_us: { path_us: timedStats.p50_us, ...inPathP50 },
      // The bare run's p50 right after one step of the path (untimed): onnxruntime's per-call cost
      // rises with the JS work done between two runs; `all_steps_but_the_run` is that work in the path.
      bare_session_run_after_step_p50_us: bareAfterStep,
    },
    batched: {
      rows: batch,
      scoring_path_rows_per_s: Math.round(batch / batchPath),
      bare_session_run_rows_per_s: Math.round(batch / batchBare),
    },
    sink,
  };
  log(JSON.stringify(result));
  return { scoring: result };
}
