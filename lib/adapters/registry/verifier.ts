// The one verify path for every model package, whoever signed it: node:crypto's ECDSA-SHA256
// over `signingPayload(manifest)` with a public key the configuration names (ENV.modelSigningKey):
// `kms:<key arn>` fetches the key's public half once with GetPublicKey, `local:<path>` reads a PEM.
// A key named by the package itself (`signature.key_id`) is never fetched or trusted: it must be
// the id of a configured key, and then that configured key checks the signature.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, SignatureError } from '../../core/errors';
import type { Manifest, ModelName, ModelVersion } from '../../core/models/manifest';
import { signingPayload } from '../../core/models/manifest';
import type { VerifiedPackage } from '../../core/models/ports';
import { checkStoredPackage, parseStoredManifest } from '../../core/registry/package-checks';
import { parseTrustedKeySetting, type TrustedKeySetting } from '../../core/registry/signing';
import { sha256Hex } from './digest';
import { fetchKmsPublicKey } from './signers/kms-signer';
import { localKeyId } from './signers/local-key-signer';

export interface TrustedKey {
  /** `kms:<key arn>` or `local:<fingerprint>`, the form signers write into `signature.key_id`. */
  readonly id: string;
  readonly publicKey: KeyObject;
}

/** A trusted key from its SubjectPublicKeyInfo DER; anything but a P-256 public key is refused. */
export function trustedKey(id: string, spki: Uint8Array): TrustedKey {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (error) {
    throw new ConfigError(`trusted key ${id} is not a DER SubjectPublicKeyInfo: ${(error as Error).message}`, id);
  }
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(`trusted key ${id} is not a P-256 public key`, id);
  }
  return { id, publicKey };
}

/** The public key PEM at `path` (what LocalKeySigner writes as `<name>.pub.pem`). */
export function trustedLocalKey(path: string): TrustedKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`trusted key local:${path} cannot be read: ${(error as Error).message}`, path);
  }
  let spki: Uint8Array;
  try {
    spki = createPublicKey(pem).export({ format: 'der', type: 'spki' });
  } catch (error) {
    throw new ConfigError(`trusted key local:${path} is not a public key PEM: ${(error as Error).message}`, path);
  }
  return trustedKey(localKeyId(spki), spki);
}

export async function trustedKmsKey(kms: KMSClient, keyId: string): Promise<TrustedKey> {
  const { arn, spki } = await fetchKmsPublicKey(kms, keyId);
  return trustedKey(`kms:${arn}`, spki);
}

export interface VerifierDependencies {
  /** Needed when a `kms:` key is configured. */
  readonly kms?: KMSClient;
}

async function loadSetting(setting: TrustedKeySetting, deps: VerifierDependencies): Promise<TrustedKey> {
  if (setting.kind === 'local') return trustedLocalKey(setting.path);
  if (!deps.kms) throw new ConfigError(`trusted key kms:${setting.keyId} needs a KMS client`, setting.keyId);
  return trustedKmsKey(deps.kms, setting.keyId);
}

export class PackageVerifier {
  private keys: Promise<readonly TrustedKey[]> | undefined;

  /** `load` runs once, on first use (a failure is retried on the next use). */
  constructor(private readonly load: () => Promise<readonly TrustedKey[]>) {}

  static fromKeys(keys: readonly TrustedKey[]): PackageVerifier {
    if (keys.length === 0) throw new ConfigError('a verifier needs at least one trusted key', 'trustedKeys');
    return new PackageVerifier(async () => keys);
  }

  /** From ENV.modelSigningKey's value: the setting is parsed now, keys are fetched on first use. */
  static fromSetting(value: string | undefined, deps: VerifierDependencies = {}): PackageVerifier {
    const settings = parseTrustedKeySetting(value);
    return new PackageVerifier(() => Promise.all(settings.map((s) => loadSetting(s, deps))));
  }

  trustedKeys(): Promise<readonly TrustedKey[]> {
    this.keys ??= this.load().catch((error: unknown) => {
      this.keys = undefined;
      throw error;
    });
    return this.keys;
  }

  /** Checks the manifest's signature against the trusted keys; a SignatureError names what failed. */
  async verifyManifest(manifest: Manifest, resource = `${manifest.name}@${manifest.version}`): Promise<void> {
    const { signature } = manifest;
    if (!signature) throw new SignatureError(`${resource}: the manifest is not signed`, 'signature', resource);
    const keys = await this.trustedKeys();
    // The claim must name a trusted key, and only that key is tried: a package cannot pick its
    // verifier, and an edited key_id is refused like any other edited field.
    const key = keys.find((k) => k.id === signature.key_id);
    if (!key) {
      const trusted = keys.map((k) => k.id).join(', ');
      throw new SignatureError(`${resource}: signed by key ${signature.key_id}, which is not trusted (trusted: ${trusted})`, 'key', resource);
    }
    let valid = false;
    try {
      valid = verify('sha256', signingPayload(manifest), { key: key.publicKey, dsaEncoding: 'der' }, Buffer.from(signature.value, 'base64'));
    } catch {
      // A malformed signature is simply not a valid one.
    }
    if (!valid) throw new SignatureError(`${resource}: the manifest signature does not verify with trusted key ${key.id}`, 'signature', resource);
  }

  /**
   * Everything a stored package must pass before it is loaded: a valid manifest for `name`@`version`,
   * ONNX bytes with the manifest's digest, and a signature by a trusted key over the manifest.
   */
  async verifyPackage(manifestText: string, onnx: Uint8Array, name: ModelName, version: ModelVersion): Promise<VerifiedPackage> {
    const resource = `${name}@${version}`;
    const manifest = checkStoredPackage(parseStoredManifest(manifestText, resource), sha256Hex(onnx), name, version);
    await this.verifyManifest(manifest, resource);
    return { manifest, onnx };
  }
}
