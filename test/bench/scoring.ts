// Scoring benchmark. (1) One request through the whole in-process scoring path — body parse, the
// model lease, an in-memory online store read, state deserialisation, the engine's f(S, e),
// onnxruntime, reason codes, the JSON answer — beside a bare `session.run` of the same model on the
// same row, interleaved in the same run: p50/p99 in µs. (2) Batched scoring, rows/s, beside a bare
// batched `session.run`. The model is trained here on the reference workload and exported by the
// project's own exporter, so its size is a real model's.
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { OnnxModelRuntime } from '../../lib/adapters/model-runner';
import { ModelCache } from '../../lib/adapters/scoring/model-cache';
import { ScoringService } from '../../lib/adapters/scoring/service';
import { FeatureEngine, IncrementalDriver, referenceFeatureSet, serializeCard, serializeMerchant } from '../../lib/core/features';
import type { Manifest, ModelName, ModelVersion } from '../../lib/core/models/manifest';
import type { ModelVersionRecord, RegistryReader, VerifiedPackage } from '../../lib/core/models/ports';
import type { StoredEntity } from '../../lib/core/pipeline/ports';
import { assertServable, entityKeysFor, ModelRouter, parseScoreBody, Scorer, type ScoreInput } from '../../lib/core/scoring';
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

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function summary(samplesMs: number[]) {
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
  const stateBytes = [...items.values()].reduce((n, it) => n + it.state.length, 0) / items.size;

  // The bare session gets OnnxModelRuntime's own settings.
  const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  const cache = new ModelCache({ registry: new OnePackageRegistry({ manifest, onnx: model.onnx }), router: new ModelRouter({ cpu: new OnnxModelRuntime() }), accept: (m) => assertServable(m, engine) });
  const scorer = new Scorer(engine);
  const store = new MemoryStore(items);
  const service = new ScoringService({ scorer, models: cache, store, defaultModel: MODEL });
  const bare = await ort.InferenceSession.create(model.onnx, sessionOptions);

  // The same row for the bare run: the first request's vector.
  const first = parseScoreBody(bodies[0]);
  if (!first.ok) throw first.error;
  const keys = entityKeysFor(first.value.event);
  const firstItems = await store.getMany([keys.card, keys.merchant]);
  const row = Float32Array.from(scorer.features(first.value.event, { card: firstItems.get(keys.card), merchant: firstItems.get(keys.merchant) }).values);
  const feeds = { features: new ort.Tensor('float32', row, [1, row.length]) };

  let sink = 0;
  const path = async (i: number) => {
    const answer = await service.score(bodies[i % bodies.length], `req-${i}`);
    sink += JSON.stringify(answer).length;
  };
  const bareRun = async () => {
    const out = await bare.run(feeds);
    sink += (out['score']!.data as Float32Array)[0]!;
  };

  log('warming up');
  for (let i = 0; i < 2000; i++) {
    await path(i);
    await bareRun();
  }

  log(`timing ${requests} requests and ${requests} bare runs, interleaved in blocks of 500`);
  const pathMs: number[] = [];
  const bareMs: number[] = [];
  for (let done = 0; done < requests; done += 500) {
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      await bareRun();
      bareMs.push(performance.now() - t);
    }
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      await path(done + i);
      pathMs.push(performance.now() - t);
    }
  }
  const pathStats = summary(pathMs);
  const bareStats = summary(bareMs);

  // Where the path's time goes, each step alone over the same bodies.
  log('breaking the path down');
  const lease = await cache.acquire(MODEL);
  const steps = { parse_us: 0, store_read_us: 0, features_us: 0, session_us: 0, reasons_us: 0, answer_json_us: 0 };
  const n = 5000;
  const inputs: ScoreInput[] = [];
  let t = performance.now();
  const parsed = [];
  for (let i = 0; i < n; i++) {
    const r = parseScoreBody(bodies[i % bodies.length]);
    if (!r.ok) throw r.error;
    parsed.push(r.value);
  }
  steps.parse_us = ((performance.now() - t) / n) * 1000;
  t = performance.now();
  for (let i = 0; i < n; i++) {
    const k = entityKeysFor(parsed[i]!.event);
    const got = await store.getMany([k.card, k.merchant]);
    inputs.push({ requestId: `b-${i}`, event: parsed[i]!.event, items: { card: got.get(k.card), merchant: got.get(k.merchant) } });
  }
  steps.store_read_us = ((performance.now() - t) / n) * 1000;
  t = performance.now();
  const rows = inputs.map((inp) => Float32Array.from(scorer.features(inp.event, inp.items).values));
  steps.features_us = ((performance.now() - t) / n) * 1000;
  t = performance.now();
  for (const r of rows) sink += (await lease.model.score(r, 1))[0]!;
  steps.session_us = ((performance.now() - t) / n) * 1000;
  t = performance.now();
  for (const r of rows) sink += lease.model.contributions(r)?.[0] ?? 0;
  steps.reasons_us = ((performance.now() - t) / n) * 1000;
  const answers = await Promise.all(inputs.slice(0, 1000).map((inp) => scorer.score(inp, lease)));
  t = performance.now();
  for (let i = 0; i < n; i++) sink += JSON.stringify(answers[i % answers.length]).length;
  steps.answer_json_us = ((performance.now() - t) / n) * 1000;
  const round = (x: number) => Math.round(x * 10) / 10;

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

  const result = {
    model: { trees: model.ensemble.trees.length, max_depth: 6, features: row.length, onnx_bytes: model.onnx.length },
    state: { entities: items.size, mean_state_bytes: Math.round(stateBytes) },
    single_request: {
      scoring_path: pathStats,
      bare_session_run: bareStats,
      p50_ratio: Math.round((pathStats.p50_us / bareStats.p50_us) * 100) / 100,
      p99_ratio: Math.round((pathStats.p99_us / bareStats.p99_us) * 100) / 100,
      goal_p50_ratio: 3,
      meets_goal: pathStats.p50_us <= 3 * bareStats.p50_us,
      breakdown_mean_us: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v)])),
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
