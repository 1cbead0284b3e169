// Fakes of the registry and runtime ports for the scoring unit tests: every slow step is a promise
// the test resolves when it chooses, so "nothing waits on a load" is checked, not timed.
import { referenceFeatureSet, FeatureEngine } from '../../../lib/core/features';
import { FathomError } from '../../../lib/core/errors';
import type { Histogram, Manifest, ModelName, ModelVersion } from '../../../lib/core/models/manifest';
import { MODEL_PACKAGE_FORMAT, parseManifest } from '../../../lib/core/models/manifest';
import type { LoadedModel, ModelRuntime, ModelVersionRecord, RegistryReader, VerifiedPackage } from '../../../lib/core/models/ports';

export const engine = new FeatureEngine(referenceFeatureSet);
export const NAME = 'card-fraud' as ModelName;
export const v = (s: string) => s as ModelVersion;

const histogram: Histogram = { edges: [0, 1], counts: [1], missing: 0 };
const holdout = { rows: 10, positives: 1, roc_auc: 0.9, pr_auc: 0.5, recall_at_1pct_fpr: 0.4, log_loss: 0.2, ece: 0.01 };

export function manifest(version: string, overrides: Partial<Manifest> = {}): Manifest {
  const features = overrides.features ?? engine.names;
  return parseManifest({
    format: MODEL_PACKAGE_FORMAT,
    name: NAME,
    version,
    created_at: '2026-03-01T00:00:00Z',
    feature_set: engine.version,
    features,
    input: { name: 'input', dtype: 'float32' },
    output: { name: 'probabilities' },
    threshold: 0.5,
    tier: 'cpu',
    training_set: { snapshot_id: 'snap-1', rows: 10, sha256: 'a'.repeat(64) },
    metrics: { holdout },
    baseline: { features: Object.fromEntries(features.map((f) => [f, histogram])), score: histogram },
    trainer: { name: 'fake' },
    onnx_sha256: 'b'.repeat(64),
    signature: { key_id: 'local:test', algorithm: 'ECDSA_SHA_256', value: 'c2ln' },
    ...overrides,
  });
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-queued promise callback run. */
export const flush = () => new Promise<void>((r) => setImmediate(r));

export class FakeSignatureError extends FathomError {
  constructor(message: string) {
    super(message, 'signature_error');
  }
}

/** A registry whose production pointer and packages the test sets; `gate` holds a version's fetch until released. */
export class FakeRegistry implements RegistryReader {
  production = new Map<ModelName, ModelVersion>();
  packages = new Map<string, Manifest>();
  tampered = new Set<string>();
  gates = new Map<string, Deferred<void>>();
  pointerReads = 0;
  packageReads: string[] = [];
  pointerError: Error | undefined;

  add(m: Manifest): this {
    this.packages.set(`${m.name}@${m.version}`, m);
    return this;
  }

  promote(name: ModelName, version: string): void {
    this.production.set(name, v(version));
  }

  gate(version: string): Deferred<void> {
    const d = deferred<void>();
    this.gates.set(version, d);
    return d;
  }

  async productionVersion(name: ModelName): Promise<ModelVersion | undefined> {
    this.pointerReads++;
    if (this.pointerError) throw this.pointerError;
    return this.production.get(name);
  }

  async loadVerifiedPackage(name: ModelName, version: ModelVersion): Promise<VerifiedPackage> {
    this.packageReads.push(version);
    await this.gates.get(version)?.promise;
    if (this.tampered.has(version)) throw new FakeSignatureError(`${name}@${version}: onnx sha256 does not match the signed manifest`);
    const m = this.packages.get(`${name}@${version}`);
    if (!m) throw new Error(`no package ${name}@${version}`);
    return { manifest: m, onnx: new TextEncoder().encode(version) };
  }

  async getVersion(): Promise<ModelVersionRecord | undefined> {
    return undefined;
  }

  async listVersions(): Promise<ModelVersionRecord[]> {
    return [];
  }
}

/** A model that scores every row with the same probability and explains it with fixed contributions. */
export class FakeModel implements LoadedModel {
  released = 0;
  scored = 0;
  constructor(
    readonly version: string,
    readonly featureCount: number,
    readonly probability = 0.25,
    readonly contributionsOf: ((row: Float32Array) => Float64Array | undefined) | undefined = undefined,
  ) {}

  async score(_rows: Float32Array, count: number): Promise<Float32Array> {
    if (this.released > 0) throw new Error(`model ${this.version} used after release`);
    this.scored += count;
    return new Float32Array(count).fill(this.probability);
  }

  contributions(row: Float32Array): Float64Array | undefined {
    return this.contributionsOf?.(row);
  }

  async release(): Promise<void> {
    this.released++;
  }
}

/** A runtime whose load (the warm-up included) the test can hold per version. */
export class FakeRuntime implements ModelRuntime {
  loads: string[] = [];
  models = new Map<string, FakeModel>();
  warmups = new Map<string, Deferred<void>>();
  failing = new Set<string>();

  holdWarmup(version: string): Deferred<void> {
    const d = deferred<void>();
    this.warmups.set(version, d);
    return d;
  }

  async load(pkg: VerifiedPackage): Promise<LoadedModel> {
    const version = pkg.manifest.version;
    this.loads.push(version);
    await this.warmups.get(version)?.promise;
    if (this.failing.has(version)) throw new Error(`onnxruntime could not create a session for ${version}`);
    const model = new FakeModel(version, pkg.manifest.features.length);
    this.models.set(version, model);
    return model;
  }
}
