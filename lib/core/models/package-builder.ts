// Assembles the unsigned manifest of a freshly trained package from what training measured.
// Pure: the caller supplies the ONNX digest and the clock, so the same inputs give the same
// manifest (the training job's determinism test relies on it).
import { MODEL_PACKAGE_FORMAT, parseManifest, type Histogram, type HoldoutMetrics, type UnsignedManifest } from './manifest';

export interface PackageFacts {
  readonly name: string;
  readonly version: string;
  readonly createdAt: string;
  readonly featureSet: string;
  readonly features: readonly string[];
  readonly threshold: number;
  readonly tier: string;
  readonly trainingSet: { readonly snapshotId: string; readonly rows: number; readonly sha256: string };
  readonly holdout: HoldoutMetrics;
  readonly validation?: HoldoutMetrics;
  readonly featureBaselines: Record<string, Histogram>;
  readonly scoreBaseline: Histogram;
  readonly trainer: Record<string, unknown>;
  readonly onnxSha256: string;
  readonly inputName: string;
  readonly outputName: string;
}

/** A manifest that passes `parseManifest`; a violation throws a ValidationError naming the field. */
export function buildManifest(f: PackageFacts): UnsignedManifest {
  const manifest: UnsignedManifest = parseManifest({
    format: MODEL_PACKAGE_FORMAT,
    name: f.name,
    version: f.version,
    created_at: f.createdAt,
    feature_set: f.featureSet,
    features: [...f.features],
    input: { name: f.inputName, dtype: 'float32' },
    output: { name: f.outputName },
    threshold: f.threshold,
    tier: f.tier,
    training_set: { snapshot_id: f.trainingSet.snapshotId, rows: f.trainingSet.rows, sha256: f.trainingSet.sha256 },
    metrics: { holdout: f.holdout, ...(f.validation ? { validation: f.validation } : {}) },
    baseline: { features: f.featureBaselines, score: f.scoreBaseline },
    trainer: f.trainer,
    onnx_sha256: f.onnxSha256,
  });
  return manifest;
}

/** `<yyyymmddThhmmssZ>-<first 8 hex of the ONNX sha256>`: sortable by time, unique by content. */
export function defaultVersion(createdAt: string, onnxSha256: string): string {
  const stamp = createdAt.replace(/[-:]/g, '').replace(/\.\d+/, '');
  return `${stamp}-${onnxSha256.slice(0, 8)}`;
}
