// The model package contract (DESIGN.md, Shared contracts): `model.onnx` + `manifest.json`.
// The manifest is the one document every stage agrees on: the trainer writes it, the registry
// signs and stores it, the scoring core refuses to load anything it does not verify.
import { z } from 'zod';
import type { Brand } from '../ids';
import { ValidationError } from '../errors';
import { toValidationError } from '../schemas/event';

export type ModelName = Brand<string, 'ModelName'>;
export type ModelVersion = Brand<string, 'ModelVersion'>;

export const MODEL_PACKAGE_FORMAT = 'fathom.model/v1';
export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';

/** A model name's pattern (also checked by hand on the scoring path: scoring/request.ts). */
export const MODEL_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const ModelNameSchema = z
  .string()
  .regex(MODEL_NAME_PATTERN, 'must be 1-63 lowercase letters, digits or -, starting with a letter')
  .transform((s) => s as ModelName);
export const ModelVersionSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, . _ or -, starting with a letter or digit')
  .transform((s) => s as ModelVersion);

/** `cpu` runs onnxruntime-node inside the scoring Lambda; any other name is a GPU tier. */
export const TierSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be cpu or a GPU tier name such as gpu-small');
export const CPU_TIER = 'cpu';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
const finite = z.number().finite();

/** A fixed-edge histogram: counts[i] holds values in [edges[i], edges[i+1]); the last bin is closed. */
export const HistogramSchema = z
  .object({
    edges: z.array(finite).min(2),
    counts: z.array(z.number().int().nonnegative()),
    /** Values that were NaN (or missing), kept apart from the bins. */
    missing: z.number().int().nonnegative(),
  })
  .refine((h) => h.counts.length === h.edges.length - 1, { message: 'counts must have one entry fewer than edges', path: ['counts'] });
export type Histogram = z.infer<typeof HistogramSchema>;

export const HoldoutMetricsSchema = z.object({
  rows: z.number().int().nonnegative(),
  positives: z.number().int().nonnegative(),
  roc_auc: finite,
  pr_auc: finite,
  recall_at_1pct_fpr: finite,
  log_loss: finite,
  ece: finite,
});
export type HoldoutMetrics = z.infer<typeof HoldoutMetricsSchema>;

export const SignatureSchema = z.object({
  /** `kms:<key id or arn>` on AWS, `local:<fingerprint>` locally: which trusted key verifies it. */
  key_id: z.string().min(1),
  algorithm: z.literal('ECDSA_SHA_256'),
  /** Base64 DER-encoded ECDSA signature over `signingPayload(manifest)`. */
  value: z.string().min(1),
});
export type Signature = z.infer<typeof SignatureSchema>;

export const ManifestSchema = z.strictObject({
  format: z.literal(MODEL_PACKAGE_FORMAT),
  name: ModelNameSchema,
  version: ModelVersionSchema,
  created_at: z.string().datetime(),
  /** The feature set the vector comes from, e.g. `card_fraud.v1`; scoring refuses a mismatch. */
  feature_set: z.string().min(1),
  /** Column order of the input tensor. */
  features: z.array(z.string().min(1)).min(1),
  input: z.strictObject({ name: z.string().min(1), dtype: z.literal('float32') }),
  /** Output holding P(positive), shape [N, 1]. */
  output: z.strictObject({ name: z.string().min(1) }),
  threshold: z.number().min(0).max(1),
  tier: TierSchema,
  training_set: z.strictObject({
    snapshot_id: z.string().min(1),
    rows: z.number().int().nonnegative(),
    sha256: sha256Hex,
  }),
  metrics: z.strictObject({ holdout: HoldoutMetricsSchema, validation: HoldoutMetricsSchema.optional() }),
  baseline: z.strictObject({
    features: z.record(z.string(), HistogramSchema),
    score: HistogramSchema,
  }),
  /** Trainer name, its hyperparameters, tree count and seed: enough to reproduce the model. */
  trainer: z.record(z.string(), z.unknown()),
  onnx_sha256: sha256Hex,
  /** Absent until the package is signed at registration. */
  signature: SignatureSchema.optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;
export type UnsignedManifest = Omit<Manifest, 'signature'>;

export function parseManifest(input: unknown): Manifest {
  const r = ManifestSchema.safeParse(input);
  if (!r.success) throw toValidationError(r.error, 'manifest');
  const m = r.data;
  for (const name of m.features) {
    if (!Object.hasOwn(m.baseline.features, name)) throw new ValidationError(`manifest.baseline.features: no histogram for feature ${name}`, `manifest.baseline.features.${name}`);
  }
  if (new Set(m.features).size !== m.features.length) throw new ValidationError('manifest.features: names must be unique', 'manifest.features');
  return m;
}

/** Canonical JSON: keys sorted at every depth, no whitespace, so the same manifest gives the same bytes everywhere. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The bytes a signature covers: the canonical manifest without its `signature`. */
export function signingPayload(manifest: Manifest | UnsignedManifest): Uint8Array {
  const { signature: _omit, ...rest } = manifest as Manifest;
  return new TextEncoder().encode(canonicalJson(rest));
}
