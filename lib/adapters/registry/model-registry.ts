// The model registry: signed packages in S3, versions and their lifecycle in DynamoDB. It is the
// RegistryReader the scoring path uses (one read for the production version, every package load
// verified) and what the CLI and the retraining workflow call to register, promote and roll back.
// The lifecycle policy is lib/core/registry/lifecycle.ts; the write order is in registry-table.ts.
import { ConfigError, ResourceError, SignatureError, ValidationError } from '../../core/errors';
import type { Manifest, ModelName, ModelVersion, UnsignedManifest } from '../../core/models/manifest';
import { canonicalJson, signingPayload } from '../../core/models/manifest';
import type { ModelState, ModelVersionRecord, RegistryReader, VerifiedPackage } from '../../core/models/ports';
import { packageKeys } from '../../core/registry/keys';
import {
  planPromotion,
  planRollback,
  registrationTransition,
  type LifecycleView,
  type TransitionPlan,
} from '../../core/registry/lifecycle';
import { checkRegistration, parseStoredManifest, type SanityOptions } from '../../core/registry/package-checks';
import { SIGNING_ALGORITHM, type ManifestSigner } from '../../core/registry/signing';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { sha256Hex } from './digest';
import { readPackageDir, type PackageFiles } from './package-dir';
import { S3PackageStore, type StoredObject } from './package-store';
import { effectiveVersions, RegistryTable, type ModelSnapshot, type StoredVersion } from './registry-table';
import type { PackageVerifier } from './verifier';

export interface ModelRegistryOptions {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  /** The registry table (ENV.modelRegistryTable). */
  readonly tableName: string;
  /** The package bucket (ENV.modelBucket). */
  readonly bucket: string;
  /** Checks every package before it is returned, and every signature `register` makes. */
  readonly verifier: PackageVerifier;
  /** Signs at registration; a reader needs none. */
  readonly signer?: ManifestSigner;
  /** Feature sets and tiers `register` accepts. */
  readonly sanity?: SanityOptions;
  readonly clock?: () => Date;
  /** Attempts of a transition that keeps losing the race for the pointer. @default 10 */
  readonly maxAttempts?: number;
}

/** A package directory (`model.onnx` + `manifest.json`), or its contents. */
export type PackageInput = string | PackageFiles;

export interface RollbackResult {
  /** The version that is production again. */
  readonly restored: ModelVersionRecord;
  /** The version that was production, now archived (absent when none was). */
  readonly archived?: ModelVersionRecord;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function unsigned(manifest: Manifest): UnsignedManifest {
  const { signature: _dropped, ...rest } = manifest;
  return rest;
}

export class ModelRegistry implements RegistryReader {
  private readonly table: RegistryTable;
  private readonly store: S3PackageStore;
  private readonly verifier: PackageVerifier;
  private readonly signer: ManifestSigner | undefined;
  private readonly sanity: SanityOptions;
  private readonly clock: () => Date;
  private readonly maxAttempts: number;

  constructor(options: ModelRegistryOptions) {
    this.table = new RegistryTable(options.dynamodb, options.tableName);
    this.store = new S3PackageStore(options.s3, options.bucket);
    this.verifier = options.verifier;
    this.signer = options.signer;
    this.sanity = options.sanity ?? {};
    this.clock = options.clock ?? (() => new Date());
    this.maxAttempts = options.maxAttempts ?? 10;
  }

  /**
   * Checks a package (manifest sanity, the ONNX digest), signs its manifest, stores both files and
   * records the version as `candidate`. A version is registered once; registering the same bytes
   * again after an interrupted registration finishes it, different bytes are refused.
   */
  async register(input: PackageInput, actor: string, reason = 'registered'): Promise<ModelVersionRecord> {
    const files = typeof input === 'string' ? await readPackageDir(input) : input;
    const digest = sha256Hex(files.onnx);
    const manifest = unsigned(checkRegistration(stripSignature(files.manifest), digest, this.sanity));
    const transition = registrationTransition({ actor, reason, at: this.clock().toISOString() });
    const { name, version } = manifest;
    const resource = `${name}@${version}`;

    const existing = (await this.table.readVersion(name, version)).versions.get(version);
    if (existing) throw new ResourceError(`model ${name} version ${version} is already registered (${existing.record.state})`, resource, false);
    if (!this.signer) throw new ConfigError('registering a model needs a signer (KmsSigner or LocalKeySigner)', 'signer');

    const keys = packageKeys(name, version);
    const found = await this.store.find(keys);
    let model: StoredObject | undefined = found.model;
    let stored: { object: StoredObject; manifest: Manifest } | undefined;
    if (found.manifest) {
      const previous = parseStoredManifest(new TextDecoder().decode(await this.store.get(found.manifest)), resource);
      const same = canonicalJson(unsigned(previous)) === canonicalJson(manifest);
      const sameModel = found.model !== undefined && sha256Hex(await this.store.get(found.model)) === digest;
      if (!same || !sameModel) {
        throw new ResourceError(`a different package is already stored for ${resource} in s3://${this.store.bucket}/${keys.manifestKey}; a version's package is never overwritten`, resource, false);
      }
      await this.verifier.verifyManifest(previous, resource);
      stored = { object: found.manifest, manifest: previous };
    } else if (found.model && sha256Hex(await this.store.get(found.model)) !== digest) {
      throw new ResourceError(`a different model.onnx is already stored for ${resource} in s3://${this.store.bucket}/${keys.modelKey}; a version's package is never overwritten`, resource, false);
    }

    let signed: Manifest;
    let manifestObject: StoredObject;
    if (stored) {
      signed = stored.manifest;
      manifestObject = stored.object;
    } else {
      signed = {
        ...manifest,
        signature: {
          key_id: await this.signer.keyId(),
          algorithm: SIGNING_ALGORITHM,
          value: Buffer.from(await this.signer.sign(signingPayload(manifest))).toString('base64'),
        },
      };
      // A signer the verifiers would not trust is found out now, not when serving refuses the model.
      await this.verifier.verifyManifest(signed, resource);
      // model.onnx first: a manifest in the bucket means the package is complete.
      model ??= await this.store.putNew(keys.modelKey, files.onnx, 'application/octet-stream');
      manifestObject = await this.store.putNew(keys.manifestKey, new TextEncoder().encode(`${JSON.stringify(signed, null, 2)}\n`), 'application/json');
    }
    if (!model) throw new ResourceError(`${resource}: model.onnx is missing from the stored package`, resource, false);

    const record: ModelVersionRecord = {
      name,
      version,
      state: 'candidate',
      tier: manifest.tier,
      featureSet: manifest.feature_set,
      registeredAt: transition.at,
      metrics: manifest.metrics.holdout,
      location: {
        manifestKey: manifestObject.key,
        modelKey: model.key,
        ...(manifestObject.versionId ? { manifestVersionId: manifestObject.versionId } : {}),
        ...(model.versionId ? { modelVersionId: model.versionId } : {}),
      },
      transitions: [transition],
    };
    const created = await this.table.createVersion({ record, onnxSha256: digest, signingKeyId: signed.signature?.key_id ?? '' });
    if (!created) throw new ResourceError(`model ${name} version ${version} was registered by someone else meanwhile`, resource, false);
    return record;
  }

  /** Moves `version` to `to` as the lifecycle policy allows; promoting to production archives the current one. */
  async promote(name: ModelName, version: ModelVersion, to: ModelState, actor: string, reason: string): Promise<ModelVersionRecord> {
    const { versions } = await this.transition(name, (view, at) => planPromotion(view, version, to, { actor, reason, at }));
    const record = versions.get(version)?.record;
    if (!record) throw new ResourceError(`model ${name} has no version ${version}`, `${name}@${version}`, false);
    return record;
  }

  /** Restores the version that was production before the current one; the current one is archived. */
  async rollback(name: ModelName, actor: string, reason: string): Promise<RollbackResult> {
    const { plan, versions } = await this.transition(name, (view, at) => planRollback(view, { actor, reason, at }));
    const restored = plan.pointer.production && versions.get(plan.pointer.production)?.record;
    if (!restored) throw new ResourceError(`model ${name}: rollback restored no version`, `model#${name}`, false);
    const archived = plan.changes.find((c) => c.transition.to === 'archived');
    const archivedRecord = archived && versions.get(archived.version)?.record;
    return { restored, ...(archivedRecord ? { archived: archivedRecord } : {}) };
  }

  async productionVersion(name: ModelName): Promise<ModelVersion | undefined> {
    return (await this.table.readPointer(name)).production;
  }

  async loadVerifiedPackage(name: ModelName, version: ModelVersion): Promise<VerifiedPackage> {
    const resource = `${name}@${version}`;
    const stored = (await this.table.readVersion(name, version)).versions.get(version);
    if (!stored) throw new ResourceError(`model ${name} has no version ${version}`, resource, false);
    const { manifestText, onnx } = await this.store.getPackage(stored.record.location);
    const pkg = await this.verifier.verifyPackage(manifestText, onnx, name, version);
    // The signed manifest is the authority; the digest recorded at registration must agree with it
    // too, so a validly signed package of another registration cannot be swapped in.
    if (pkg.manifest.onnx_sha256 !== stored.onnxSha256) {
      throw new SignatureError(`${resource}: the package's ONNX digest ${pkg.manifest.onnx_sha256} is not the one registered (${stored.onnxSha256})`, 'onnx_sha256', resource);
    }
    return pkg;
  }

  async getVersion(name: ModelName, version: ModelVersion): Promise<ModelVersionRecord | undefined> {
    return effectiveVersions(await this.table.readVersion(name, version)).get(version)?.record;
  }

  async listVersions(name?: ModelName): Promise<ModelVersionRecord[]> {
    const snapshots = name === undefined ? await this.table.readAll() : [await this.table.readModel(name)];
    return snapshots
      .flatMap((s) => [...effectiveVersions(s).values()].map((v) => v.record))
      .sort((a, b) => cmp(a.name, b.name) || cmp(a.registeredAt, b.registeredAt) || cmp(a.version, b.version));
  }

  /**
   * Reads the model, finishes any transition a crash left half-applied, plans on what it read and
   * commits on the pointer revision it read. Losing the race to a concurrent transition means
   * reading and planning again, so concurrent transitions serialize (and a plan that is no longer
   * allowed, e.g. promoting a version someone just archived, fails with the policy's error).
   */
  private async transition(
    name: ModelName,
    plan: (view: LifecycleView, at: string) => TransitionPlan,
  ): Promise<{ plan: TransitionPlan; versions: Map<ModelVersion, StoredVersion> }> {
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.table.readModel(name);
      if (snapshot.versions.size === 0) throw new ResourceError(`model ${name} has no registered versions`, `model#${name}`, false);
      await this.table.repair(name, snapshot.pointer);
      const versions = effectiveVersions(snapshot);
      const view: LifecycleView = { name, pointer: snapshot.pointer, states: new Map([...versions].map(([v, s]) => [v, s.record.state])) };
      const at = this.clock().toISOString();
      const next = plan(view, at);
      if (await this.table.commit(name, snapshot.pointer, next, at)) {
        const committed: ModelSnapshot = { name, versions, pointer: { ...next.pointer, pending: next.changes } };
        await this.table.repair(name, committed.pointer);
        return { plan: next, versions: effectiveVersions(committed) };
      }
      if (attempt >= this.maxAttempts) {
        throw new ResourceError(`model ${name}: gave up after ${attempt} attempts, each overtaken by a concurrent transition`, `model#${name}`, true);
      }
      // Jittered, growing backoff so racing writers do not collide again in lockstep.
      await sleep(Math.random() * 10 * Math.min(attempt, 5));
    }
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A manifest given to `register` may carry an old signature; the registry signs afresh. */
function stripSignature(manifest: unknown): unknown {
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    throw new ValidationError('manifest must be a JSON object', 'manifest');
  }
  const { signature: _dropped, ...rest } = manifest as Record<string, unknown>;
  return rest;
}
