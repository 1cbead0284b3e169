// What the scoring core and the CLI need from the registry and from a model runtime. Adapters
// (lib/adapters/registry, lib/adapters/model-runner) implement these; core and tests depend only
// on the interfaces.
import type { HoldoutMetrics, Manifest, ModelName, ModelVersion } from './manifest';

export const MODEL_STATES = ['candidate', 'staging', 'canary', 'production', 'archived'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

/** One recorded state change: who, why, when. */
export interface Transition {
  readonly from: ModelState | null;
  readonly to: ModelState;
  readonly actor: string;
  readonly reason: string;
  readonly at: string;
}

export interface ModelVersionRecord {
  readonly name: ModelName;
  readonly version: ModelVersion;
  readonly state: ModelState;
  readonly tier: string;
  readonly featureSet: string;
  readonly registeredAt: string;
  readonly metrics: HoldoutMetrics;
  /** Where the package lives (S3 keys and their object versions). */
  readonly location: { readonly manifestKey: string; readonly modelKey: string; readonly manifestVersionId?: string; readonly modelVersionId?: string };
  readonly transitions: readonly Transition[];
}

/** A package whose ONNX sha256 and manifest signature were checked against a trusted key. */
export interface VerifiedPackage {
  readonly manifest: Manifest;
  readonly onnx: Uint8Array;
}

export interface RegistryReader {
  /** The production version of a model name, or undefined when none is promoted. One read. */
  productionVersion(name: ModelName): Promise<ModelVersion | undefined>;
  /** Fetches the package and verifies it; throws a SignatureError (never returns) on any mismatch. */
  loadVerifiedPackage(name: ModelName, version: ModelVersion): Promise<VerifiedPackage>;
  getVersion(name: ModelName, version: ModelVersion): Promise<ModelVersionRecord | undefined>;
  listVersions(name?: ModelName): Promise<ModelVersionRecord[]>;
}

/** A loaded model that scores float32 rows (row-major, `featureCount` columns). */
export interface LoadedModel {
  readonly featureCount: number;
  /** P(positive) per row. */
  score(rows: Float32Array, count: number): Promise<Float32Array>;
  /**
   * Per-feature contributions to the margin (log-odds) of one row, summing to margin − expected
   * margin; undefined when the model type cannot explain itself in process.
   */
  contributions(row: Float32Array): Float64Array | undefined;
  release(): Promise<void>;
}

export interface ModelRuntime {
  load(pkg: VerifiedPackage): Promise<LoadedModel>;
}
