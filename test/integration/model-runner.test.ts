// OnnxModelRuntime against the real onnxruntime-node: what it refuses to load, that it warms up
// before handing a model out, batch scoring, reason codes and release.
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OnnxModelRuntime } from '../../lib/adapters/model-runner';
import { ResourceError, ValidationError } from '../../lib/core/errors';
import { expectedMargin } from '../../lib/core/models/contributions';
import type { Histogram, Manifest } from '../../lib/core/models/manifest';
import { MODEL_PACKAGE_FORMAT, parseManifest } from '../../lib/core/models/manifest';
import type { VerifiedPackage } from '../../lib/core/models/ports';
import type { TreeEnsemble } from '../../lib/core/models/tree-ensemble';
import { predictMargin, predictProbability } from '../../lib/core/models/tree-ensemble';
import { exportOnnx } from '../../lib/core/onnx/export';
import { META } from '../../lib/core/onnx/format';
import { decodeModel, encodeModel } from '../../lib/core/onnx/proto';
import { randomEnsemble, randomRows, twoTreeEnsemble } from '../support/random-ensemble';

// Typed as a factory, InferenceSession is a class at runtime: every session runs and releases
// through its prototype, so a spy there sees the runtime's calls without replacing them.
const sessionPrototype = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;

const histogram: Histogram = { edges: [0, 1], counts: [1], missing: 0 };
const holdout = { rows: 10, positives: 1, roc_auc: 0.9, pr_auc: 0.5, recall_at_1pct_fpr: 0.4, log_loss: 0.2, ece: 0.01 };

function manifestFor(onnx: Uint8Array, features: readonly string[], overrides: Partial<Manifest> = {}): Manifest {
  const names = overrides.features ?? features;
  return parseManifest({
    format: MODEL_PACKAGE_FORMAT,
    name: 'card-fraud',
    version: '1',
    created_at: '2026-03-01T00:00:00Z',
    feature_set: 'test.v1',
    features: names,
    input: { name: 'features', dtype: 'float32' },
    output: { name: 'score' },
    threshold: 0.5,
    tier: 'cpu',
    training_set: { snapshot_id: 'snap-1', rows: 10, sha256: 'a'.repeat(64) },
    metrics: { holdout },
    baseline: { features: Object.fromEntries(names.map((f) => [f, histogram])), score: histogram },
    trainer: { name: 'test' },
    onnx_sha256: createHash('sha256').update(onnx).digest('hex'),
    ...overrides,
  });
}

function packageOf(model: TreeEnsemble, overrides: Partial<Manifest> = {}, transform: (bytes: Uint8Array) => Uint8Array = (b) => b): VerifiedPackage {
  const features = Array.from({ length: model.featureCount }, (_, i) => `f${i}`);
  const onnx = transform(exportOnnx(model, { features, marginOutputName: 'margin' }));
  return { manifest: manifestFor(onnx, features, overrides), onnx };
}

/** The same model without Fathom's format marker: what another exporter's file looks like. */
function foreign(bytes: Uint8Array): Uint8Array {
  const m = decodeModel(bytes);
  m.metadataProps = m.metadataProps!.filter((p) => p.key !== META.format);
  return encodeModel(m);
}

function unknownOp(bytes: Uint8Array): Uint8Array {
  const m = decodeModel(bytes);
  m.graph!.node![1]!.opType = 'NoSuchOp';
  return encodeModel(m);
}

async function loadError(pkg: VerifiedPackage): Promise<ValidationError> {
  const e: unknown = await new OnnxModelRuntime().load(pkg).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e instanceof ValidationError) return e;
  throw new Error(`expected a ValidationError, got ${String(e)}`);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('OnnxModelRuntime.load', () => {
  const model = randomEnsemble(5, { trees: 60, featureCount: 8 });

  it('runs one warm-up inference before handing the model out', async () => {
    const run = vi.spyOn(sessionPrototype, 'run');
    const loaded = await new OnnxModelRuntime().load(packageOf(model));
    expect(run).toHaveBeenCalledTimes(1);
    const feeds = run.mock.calls[0]![0] as Record<string, ort.Tensor>;
    expect(feeds.features!.dims).toEqual([1, 8]);
    expect(loaded.timings.warmupMs).toBeGreaterThan(0);
    expect(loaded.timings.sessionMs).toBeGreaterThan(0);
    await loaded.release();
  });

  const refusals: [string, () => VerifiedPackage, string][] = [
    ['a manifest input name the model does not have', () => packageOf(model, { input: { name: 'x', dtype: 'float32' } }), 'manifest.input.name'],
    ['a manifest output name the model does not have', () => packageOf(model, { output: { name: 'probability' } }), 'manifest.output.name'],
    ['a manifest output naming the margin, not the probability', () => packageOf(model, { output: { name: 'margin' } }), 'manifest.output.name'],
    ['a manifest listing more features than the model reads', () => packageOf(model, { features: [...Array.from({ length: 8 }, (_, i) => `f${i}`), 'extra'] }), 'manifest.features'],
    ['manifest features in another order', () => packageOf(model, { features: ['f1', 'f0', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7'] }), 'manifest.features'],
    // Without the marker the width check falls to the session's own input shape.
    ['a foreign model whose input width differs', () => packageOf(model, { features: ['a', 'b', 'c'] }, foreign), 'manifest.features'],
    ['bytes that are not ONNX', () => ({ ...packageOf(model), onnx: new Uint8Array([8, 8, 18, 3, 1, 2]) }), 'onnx'],
    ['an ONNX model onnxruntime cannot load', () => packageOf(model, {}, (b) => unknownOp(foreign(b))), 'onnx'],
  ];
  it.each(refusals)('refuses %s, naming the field', async (_label, build, field) => {
    const e = await loadError(build());
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${field}:`)).toBe(true);
  });

  it('releases the session of a package it refuses', async () => {
    const release = vi.spyOn(sessionPrototype, 'release');
    await loadError(packageOf(model, { output: { name: 'probability' } }));
    expect(release).toHaveBeenCalledTimes(1);
  });
});

describe('OnnxLoadedModel', () => {
  const model = randomEnsemble(9, { trees: 200, featureCount: 12 });
  const F = model.featureCount;

  it('scores a batch in one session.run, as predictProbability does', async () => {
    const loaded = await new OnnxModelRuntime().load(packageOf(model));
    const run = vi.spyOn(sessionPrototype, 'run');
    const N = 5000;
    // A view into a larger buffer, as a caller slicing a batch would pass.
    const buffer = randomRows(model, 1, N + 3);
    const rows = buffer.subarray(3 * F, (N + 3) * F);
    const scores = await loaded.score(rows, N);
    expect(run).toHaveBeenCalledTimes(1);
    expect(scores).toHaveLength(N);
    let worst = 0;
    for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(scores[i]! - predictProbability(model, rows.subarray(i * F, (i + 1) * F))));
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect(await loaded.score(new Float32Array(0), 0)).toHaveLength(0);
    await expect(loaded.score(rows, N + 1)).rejects.toMatchObject({ field: 'rows' });
    await loaded.release();
  });

  it('explains a row with contributions that sum to margin − expected margin', async () => {
    const loaded = await new OnnxModelRuntime().load(packageOf(model));
    const row = randomRows(model, 2, 1);
    const c = loaded.contributions(row)!;
    expect(c).toHaveLength(F);
    expect(c.reduce((s, x) => s + x, expectedMargin(model)) - predictMargin(model, row)).toBeCloseTo(0, 4);
    await loaded.release();

    const small = await new OnnxModelRuntime().load(packageOf(twoTreeEnsemble()));
    expect(Array.from(small.contributions(new Float32Array([2, 5, 0]))!)).toEqual([0.125, 0.5 - 1 / 6, 0]);
    await small.release();
  });

  it('scores a foreign model but cannot explain it', async () => {
    const loaded = await new OnnxModelRuntime().load(packageOf(model, {}, foreign));
    const row = randomRows(model, 3, 1);
    expect((await loaded.score(row, 1))[0]).toBeCloseTo(predictProbability(model, row), 5);
    expect(loaded.contributions(row)).toBeUndefined();
    await loaded.release();
  });

  it('release frees the session once; the model refuses work afterwards', async () => {
    const loaded = await new OnnxModelRuntime().load(packageOf(model));
    const release = vi.spyOn(sessionPrototype, 'release');
    await loaded.release();
    await loaded.release();
    expect(release).toHaveBeenCalledTimes(1);
    await expect(loaded.score(new Float32Array(F), 1)).rejects.toBeInstanceOf(ResourceError);
    expect(() => loaded.contributions(new Float32Array(F))).toThrow(ResourceError);
  });
});
