// The checks of a model package that need no key, pure: the adapters compute the digest and the
// signature check, this decides what the bytes must say. Registration input that fails is a
// ValidationError (the caller's mistake); a stored package that fails is a SignatureError (the
// package was changed after signing, or put where it does not belong) and is never loaded.
import { SignatureError, ValidationError } from '../errors';
import type { Histogram, Manifest, ModelName, ModelVersion } from '../models/manifest';
import { parseManifest } from '../models/manifest';

/** `<feature set name>.v<version>`, as the feature engine names its set (e.g. `card_fraud.v1`). */
export const FEATURE_SET_PATTERN = /^[a-z][a-z0-9_]*\.v[1-9][0-9]*$/;

export interface SanityOptions {
  /** Feature sets this platform computes; a manifest naming another is refused. Any well-formed name when absent. */
  readonly featureSets?: readonly string[];
  /** Tiers this platform serves (`cpu` and the configured GPU tiers). Any well-formed tier when absent. */
  readonly tiers?: readonly string[];
}

function checkHistogram(h: Histogram, field: string, bounds?: readonly [number, number]): void {
  for (let i = 1; i < h.edges.length; i++) {
    const [previous, edge] = [h.edges[i - 1] ?? Number.NaN, h.edges[i] ?? Number.NaN];
    if (!(edge > previous)) throw new ValidationError(`${field}.edges must be strictly increasing (edge ${i} is ${edge} after ${previous})`, `${field}.edges`);
  }
  if (bounds) {
    const [low, high] = bounds;
    const first = h.edges[0] ?? Number.NaN;
    const last = h.edges.at(-1) ?? Number.NaN;
    if (first < low || last > high) throw new ValidationError(`${field}.edges must lie within [${low}, ${high}] (got ${first} to ${last})`, `${field}.edges`);
  }
}

function unitInterval(value: number, field: string): void {
  if (value < 0 || value > 1) throw new ValidationError(`${field} must be between 0 and 1 (got ${value})`, field);
}

/**
 * Parses a manifest and checks what the schema cannot: strictly increasing histogram edges, a
 * baseline for exactly the model's features, a score histogram within [0, 1], metrics in range,
 * distinct tensor names, a well-formed (and, when given, known) feature set and tier.
 */
export function checkManifest(input: unknown, options: SanityOptions = {}): Manifest {
  const m = parseManifest(input);
  if (!FEATURE_SET_PATTERN.test(m.feature_set)) {
    throw new ValidationError(`manifest.feature_set must look like <name>.v<N>, e.g. card_fraud.v1 (got "${m.feature_set}")`, 'manifest.feature_set');
  }
  if (options.featureSets && !options.featureSets.includes(m.feature_set)) {
    throw new ValidationError(`manifest.feature_set ${m.feature_set} is not computed here (known: ${options.featureSets.join(', ')})`, 'manifest.feature_set');
  }
  if (options.tiers && !options.tiers.includes(m.tier)) {
    throw new ValidationError(`manifest.tier ${m.tier} is not served here (known: ${options.tiers.join(', ')})`, 'manifest.tier');
  }
  if (m.input.name === m.output.name) throw new ValidationError('manifest.output.name must differ from manifest.input.name', 'manifest.output.name');

  const features = new Set(m.features);
  for (const name of Object.keys(m.baseline.features)) {
    if (!features.has(name)) throw new ValidationError(`manifest.baseline.features: histogram for ${name}, which is not a model feature`, `manifest.baseline.features.${name}`);
  }
  for (const name of m.features) {
    const h = m.baseline.features[name];
    if (h) checkHistogram(h, `manifest.baseline.features.${name}`);
  }
  checkHistogram(m.baseline.score, 'manifest.baseline.score', [0, 1]);

  for (const [split, metrics] of Object.entries(m.metrics)) {
    if (!metrics) continue;
    const field = `manifest.metrics.${split}`;
    if (metrics.positives > metrics.rows) throw new ValidationError(`${field}.positives (${metrics.positives}) exceeds rows (${metrics.rows})`, `${field}.positives`);
    for (const key of ['roc_auc', 'pr_auc', 'recall_at_1pct_fpr', 'ece'] as const) unitInterval(metrics[key], `${field}.${key}`);
    if (metrics.log_loss < 0) throw new ValidationError(`${field}.log_loss must not be negative (got ${metrics.log_loss})`, `${field}.log_loss`);
  }
  return m;
}

/** Registration input: a manifest that passes `checkManifest` and whose digest matches the ONNX bytes given with it. */
export function checkRegistration(input: unknown, onnxSha256: string, options: SanityOptions = {}): Manifest {
  const m = checkManifest(input, options);
  if (m.onnx_sha256 !== onnxSha256) {
    throw new ValidationError(`manifest.onnx_sha256 is ${m.onnx_sha256} but the ONNX bytes hash to ${onnxSha256}`, 'manifest.onnx_sha256');
  }
  return m;
}

/** The text of a manifest.json as stored, parsed; a package that cannot be read is refused, never repaired. */
export function parseStoredManifest(text: string, resource: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SignatureError(`${resource}: manifest.json is not valid JSON`, 'manifest', resource);
  }
  try {
    return parseManifest(json);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new SignatureError(`${resource}: manifest.json is not a valid manifest (${detail})`, 'manifest', resource);
  }
}

/**
 * The keyless half of verifying a stored package: it is the package of `name`@`version` (a signed
 * package copied under another version's keys is refused), it is signed at all, and the ONNX bytes
 * are the ones the manifest names. The signature itself is checked by the adapters' verifier.
 */
export function checkStoredPackage(manifest: Manifest, onnxSha256: string, name: ModelName, version: ModelVersion): Manifest & { signature: NonNullable<Manifest['signature']> } {
  const resource = `${name}@${version}`;
  if (manifest.name !== name) throw new SignatureError(`${resource}: the manifest names model ${manifest.name}`, 'manifest.name', resource);
  if (manifest.version !== version) throw new SignatureError(`${resource}: the manifest names version ${manifest.version}`, 'manifest.version', resource);
  const { signature } = manifest;
  if (signature === undefined) throw new SignatureError(`${resource}: the manifest is not signed`, 'signature', resource);
  if (manifest.onnx_sha256 !== onnxSha256) {
    throw new SignatureError(`${resource}: model.onnx hashes to ${onnxSha256}, the manifest says ${manifest.onnx_sha256}`, 'onnx_sha256', resource);
  }
  return { ...manifest, signature };
}
