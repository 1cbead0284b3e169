// A real model package for the scoring tests and benchmark: the reference workload's feature rows
// (the batch driver's f(S, e)), a GBDT trained on them, exported to ONNX, and a manifest that
// names the engine's feature set and columns. Unsigned: registering it signs it.
import { createHash } from 'node:crypto';
import { FeatureEngine, referenceFeatureSet } from '../../lib/core/features';
import { generateWorkload, type GeneratedEvent } from '../../lib/core/generator';
import { featureBaselines, scoreHistogram } from '../../lib/core/metrics';
import type { UnsignedManifest } from '../../lib/core/models/manifest';
import { MODEL_PACKAGE_FORMAT, ModelNameSchema, ModelVersionSchema } from '../../lib/core/models/manifest';
import type { TreeEnsemble } from '../../lib/core/models/tree-ensemble';
import { predictProbability } from '../../lib/core/models/tree-ensemble';
import { exportOnnx } from '../../lib/core/onnx/export';
import { rowsFromWorkload, train } from '../../lib/core/training';
import type { TrainingMatrix } from '../../lib/core/training/matrix';

export interface ScoringModelOptions {
  readonly seed?: number;
  readonly events?: number;
  readonly trees?: number;
  readonly maxDepth?: number;
}

export interface TrainedModel {
  readonly events: GeneratedEvent[];
  readonly matrix: TrainingMatrix;
  readonly ensemble: TreeEnsemble;
  readonly onnx: Uint8Array;
}

export function trainScoringModel(options: ScoringModelOptions = {}, engine = new FeatureEngine(referenceFeatureSet)): TrainedModel {
  const events = [...generateWorkload({ seed: options.seed ?? 11, events: options.events ?? 20_000 })];
  const matrix = rowsFromWorkload(events, engine);
  const { model } = train(
    { train: matrix },
    { trees: options.trees ?? 60, maxDepth: options.maxDepth ?? 5, maxLeaves: 2 ** (options.maxDepth ?? 5), earlyStoppingRounds: 0, checkpointEvery: 0, positiveWeight: 'balanced' },
  );
  return { events, matrix, ensemble: model, onnx: exportOnnx(model, { features: engine.names }) };
}

export interface ManifestOptions {
  readonly name?: string;
  readonly version: string;
  readonly tier?: string;
  readonly threshold?: number;
  readonly featureSet?: string;
}

/** The manifest of `model` as version `version`; `onnx` may differ from model.onnx (another package's bytes). */
export function manifestOf(model: TrainedModel, options: ManifestOptions, onnx: Uint8Array = model.onnx): UnsignedManifest {
  const scores = new Float64Array(Math.min(model.matrix.rows, 5000));
  const f = model.matrix.features.length;
  for (let r = 0; r < scores.length; r++) scores[r] = predictProbability(model.ensemble, model.matrix.x.subarray(r * f, (r + 1) * f));
  let positives = 0;
  for (const l of model.matrix.label) positives += l;
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  return {
    format: MODEL_PACKAGE_FORMAT,
    name: ModelNameSchema.parse(options.name ?? 'card-fraud'),
    version: ModelVersionSchema.parse(options.version),
    created_at: '2026-03-01T00:00:00.000Z',
    feature_set: options.featureSet ?? `${referenceFeatureSet.name}.v${referenceFeatureSet.version}`,
    features: [...model.matrix.features],
    input: { name: 'features', dtype: 'float32' },
    output: { name: 'score' },
    threshold: options.threshold ?? 0.5,
    tier: options.tier ?? 'cpu',
    training_set: { snapshot_id: 'generated-seed', rows: model.matrix.rows, sha256: sha(new Uint8Array(model.matrix.x.buffer, model.matrix.x.byteOffset, model.matrix.x.byteLength)) },
    metrics: { holdout: { rows: model.matrix.rows, positives, roc_auc: 0.9, pr_auc: 0.5, recall_at_1pct_fpr: 0.4, log_loss: 0.2, ece: 0.01 } },
    baseline: { features: featureBaselines(model.matrix), score: scoreHistogram(scores) },
    trainer: { name: 'fathom-gbdt', trees: model.ensemble.trees.length },
    onnx_sha256: sha(onnx),
  };
}
