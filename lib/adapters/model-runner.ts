// The cpu tier's ModelRuntime: onnxruntime-node inside the process (the scoring Lambda, batch
// scoring, the local platform). A package is only ever loaded once its manifest and model agree
// on tensor names and width, and only handed out warmed up, so the first request it serves does
// not pay onnxruntime's first-run allocations.
import * as ort from 'onnxruntime-node';
import { ResourceError, ValidationError } from '../core/errors';
import { ContributionWalker } from '../core/models/contributions';
import type { Manifest } from '../core/models/manifest';
import type { LoadedModel, ModelRuntime, VerifiedPackage } from '../core/models/ports';
import type { TreeEnsemble } from '../core/models/tree-ensemble';
import { tryEnsembleFromOnnx } from '../core/onnx/import';

export interface OnnxRuntimeOptions {
  /**
   * Threads inside one operator. Default 1: a Lambda has one or two vCPUs, shared with the
   * event loop, and the tree ensemble's batches are small; extra threads only contend. (On one
   * thread onnxruntime also sums the trees in order, bit for bit as `predictMargin` does.)
   */
  readonly intraOpNumThreads?: number;
  /** Threads across operators. Default 1, for the same reason. */
  readonly interOpNumThreads?: number;
  /** Default `all`: optimization is paid once at load. */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface LoadTimings {
  /** Creating the onnxruntime session (parse, optimize, allocate). */
  readonly sessionMs: number;
  /** The warm-up inference run before the model was handed out. */
  readonly warmupMs: number;
}

export class OnnxModelRuntime implements ModelRuntime {
  private readonly sessionOptions: ort.InferenceSession.SessionOptions;

  constructor(options: OnnxRuntimeOptions = {}) {
    this.sessionOptions = {
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      interOpNumThreads: options.interOpNumThreads ?? 1,
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      executionMode: 'sequential',
    };
  }

  async load(pkg: VerifiedPackage): Promise<OnnxLoadedModel> {
    const { manifest } = pkg;
    // Parsed before the session so a Fathom model whose columns differ from the manifest's is
    // refused without paying for a session; a foreign ONNX model parses to undefined and is
    // scored but not explained.
    const imported = tryEnsembleFromOnnx(pkg.onnx);
    if (imported) {
      checkFeatureNames(imported.features, manifest);
      // The margin may be a graph output too; scores must come from the probability.
      if (imported.marginOutputName === manifest.output.name) {
        throw new ValidationError(`manifest.output.name: ${manifest.output.name} is the model's margin (log-odds), its probability output is ${imported.outputName}`, 'manifest.output.name');
      }
    }

    const started = performance.now();
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(pkg.onnx, this.sessionOptions);
    } catch (e) {
      throw new ValidationError(`onnx: onnxruntime cannot load ${manifest.name}@${manifest.version}: ${e instanceof Error ? e.message : String(e)}`, 'onnx');
    }
    const sessionMs = performance.now() - started;
    try {
      checkSession(session, manifest);
      const model = new OnnxLoadedModel(session, manifest, imported?.model, sessionMs);
      await model.warmUp();
      return model;
    } catch (e) {
      await session.release();
      throw e;
    }
  }
}

export class OnnxLoadedModel implements LoadedModel {
  readonly featureCount: number;
  readonly resource: string;
  private released = false;
  private warmupMs = 0;
  private readonly inputName: string;
  private readonly outputName: string;
  /** The one output every run fetches; onnxruntime only reads the list, so one serves every call. */
  private readonly fetches: readonly string[];
  /** The ensemble compiled for reason codes once, at load; undefined for a model Fathom did not export. */
  private readonly walker: ContributionWalker | undefined;

  constructor(
    private readonly session: ort.InferenceSession,
    manifest: Manifest,
    ensemble: TreeEnsemble | undefined,
    private readonly sessionMs: number,
  ) {
    this.featureCount = manifest.features.length;
    this.inputName = manifest.input.name;
    this.outputName = manifest.output.name;
    this.fetches = [this.outputName];
    this.resource = `model:${manifest.name}@${manifest.version}`;
    this.walker = ensemble ? new ContributionWalker(ensemble) : undefined;
  }

  get timings(): LoadTimings {
    return { sessionMs: this.sessionMs, warmupMs: this.warmupMs };
  }

  /** One all-zero row through the session, so its first-run allocations happen now. */
  async warmUp(): Promise<void> {
    const started = performance.now();
    await this.score(new Float32Array(this.featureCount), 1);
    this.warmupMs = performance.now() - started;
  }

  /** P(positive) for `count` rows in one batched session.run. */
  async score(rows: Float32Array, count: number): Promise<Float32Array> {
    this.assertLive();
    if (!Number.isInteger(count) || count < 0) throw new ValidationError(`count: must be a non-negative integer, got ${count}`, 'count');
    if (rows.length !== count * this.featureCount) {
      throw new ValidationError(`rows: ${count} rows of ${this.featureCount} features need ${count * this.featureCount} values, got ${rows.length}`, 'rows');
    }
    if (count === 0) return new Float32Array(0);
    const input = new ort.Tensor('float32', rows, [count, this.featureCount]);
    const out = await this.session.run({ [this.inputName]: input }, this.fetches);
    const data = out[this.outputName]?.data;
    if (!(data instanceof Float32Array) || data.length !== count) {
      throw new ResourceError(`${this.resource}: output ${this.outputName} is not ${count} float32 scores`, this.resource, false);
    }
    return data;
  }

  /** Saabas contributions from the ensemble parsed at load; undefined for a model not exported by Fathom. */
  contributions(row: Float32Array): Float64Array | undefined {
    this.assertLive();
    return this.walker?.contributions(row);
  }

  /** Frees the session; later calls to score or contributions throw. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }

  private assertLive(): void {
    if (this.released) throw new ResourceError(`${this.resource}: the model was released`, this.resource, false);
  }
}

function checkFeatureNames(modelFeatures: readonly string[], manifest: Manifest): void {
  const listed = manifest.features;
  if (modelFeatures.length !== listed.length) {
    throw new ValidationError(`manifest.features: lists ${listed.length} features, the model reads ${modelFeatures.length}`, 'manifest.features');
  }
  const i = listed.findIndex((name, j) => name !== modelFeatures[j]);
  if (i >= 0) throw new ValidationError(`manifest.features: column ${i} is ${listed[i]} in the manifest, ${modelFeatures[i]} in the model`, 'manifest.features');
}

function checkSession(session: ort.InferenceSession, manifest: Manifest): void {
  const inputs = session.inputNames;
  if (inputs.length !== 1 || inputs[0] !== manifest.input.name) {
    throw new ValidationError(`manifest.input.name: is ${manifest.input.name}, the model's inputs are ${inputs.join(', ')}`, 'manifest.input.name');
  }
  const input = session.inputMetadata[0];
  if (input?.isTensor) {
    if (input.type !== manifest.input.dtype) {
      throw new ValidationError(`manifest.input.dtype: is ${manifest.input.dtype}, the model's input is ${input.type}`, 'manifest.input.dtype');
    }
    const width = input.shape.length === 2 ? input.shape[1] : undefined;
    if (typeof width !== 'number' || width !== manifest.features.length) {
      throw new ValidationError(
        `manifest.features: lists ${manifest.features.length} features, the model's input ${input.name} has shape [${input.shape.join(', ')}]`,
        'manifest.features',
      );
    }
  }
  const k = session.outputNames.indexOf(manifest.output.name);
  if (k < 0) {
    throw new ValidationError(`manifest.output.name: is ${manifest.output.name}, the model's outputs are ${session.outputNames.join(', ')}`, 'manifest.output.name');
  }
  const output = session.outputMetadata[k];
  if (output?.isTensor && output.type !== 'float32') {
    throw new ValidationError(`manifest.output.name: output ${output.name} is ${output.type}, not float32 scores`, 'manifest.output.name');
  }
}
