// Model packages for registry tests: a valid manifest (baseline histograms for every feature and
// for the score) around any small bytes as the ONNX payload; the registry never parses ONNX.
import { createHash } from 'node:crypto';
import type { Histogram, ModelName, ModelVersion, UnsignedManifest } from '../../../lib/core/models/manifest';
import { MODEL_PACKAGE_FORMAT } from '../../../lib/core/models/manifest';

export const FEATURES = ['amount', 'txn_count_1h', 'merchant_risk'] as const;

const histogram = (edges: number[], counts: number[]): Histogram => ({ edges, counts, missing: 0 });

export interface TestPackage {
  readonly manifest: UnsignedManifest;
  readonly onnx: Uint8Array;
}

/** A package for `name`@`version` whose ONNX bytes are derived from both, so every version differs. */
export function testPackage(name: string, version: string, overrides: Partial<UnsignedManifest> = {}, onnx?: Uint8Array): TestPackage {
  const bytes = onnx ?? new TextEncoder().encode(`not really onnx: ${name}@${version}`);
  const manifest: UnsignedManifest = {
    format: MODEL_PACKAGE_FORMAT,
    name: name as ModelName,
    version: version as ModelVersion,
    created_at: '2026-01-31T12:00:00.000Z',
    feature_set: 'card_fraud.v1',
    features: [...FEATURES],
    input: { name: 'features', dtype: 'float32' },
    output: { name: 'probability' },
    threshold: 0.5,
    tier: 'cpu',
    training_set: { snapshot_id: 'snap-1', rows: 1000, sha256: 'a'.repeat(64) },
    metrics: { holdout: { rows: 1000, positives: 10, roc_auc: 0.93, pr_auc: 0.41, recall_at_1pct_fpr: 0.55, log_loss: 0.05, ece: 0.01 } },
    baseline: {
      features: {
        amount: histogram([0, 10, 100, 1000], [400, 400, 200]),
        txn_count_1h: histogram([0, 1, 5, 50], [700, 250, 50]),
        merchant_risk: histogram([0, 0.5, 1], [900, 100]),
      },
      score: histogram([0, 0.25, 0.5, 0.75, 1], [900, 60, 30, 10]),
    },
    trainer: { name: 'gbdt', trees: 10, seed: 7 },
    onnx_sha256: createHash('sha256').update(bytes).digest('hex'),
    ...overrides,
  };
  return { manifest, onnx: bytes };
}
