// Signs manifests with a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY): the private key never
// leaves KMS. The payload is hashed here and sent as a DIGEST, so a manifest of any size is one
// small Sign call, and the signature equals what node:crypto's ECDSA-SHA256 verify expects.
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, ResourceError } from '../../../core/errors';
import { SIGNING_ALGORITHM, type ManifestSigner } from '../../../core/registry/signing';
import { sha256 } from '../digest';

export const KMS_KEY_SPEC = 'ECC_NIST_P256';

export interface KmsPublicKey {
  /** The key's ARN, as KMS names it. */
  readonly arn: string;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
}

/**
 * The public key of a KMS signing key, checked to be a P-256 SIGN_VERIFY key that signs with
 * ECDSA_SHA_256: a key of another kind is a configuration mistake, named as such.
 */
export async function fetchKmsPublicKey(kms: KMSClient, keyId: string): Promise<KmsPublicKey> {
  const out = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  const what = `KMS key ${keyId}`;
  if (out.KeySpec !== KMS_KEY_SPEC) throw new ConfigError(`${what} has key spec ${String(out.KeySpec)}; model signing needs ${KMS_KEY_SPEC}`, keyId);
  if (out.KeyUsage !== 'SIGN_VERIFY') throw new ConfigError(`${what} has key usage ${String(out.KeyUsage)}; model signing needs SIGN_VERIFY`, keyId);
  if (!out.SigningAlgorithms?.includes(SIGNING_ALGORITHM)) throw new ConfigError(`${what} does not sign with ${SIGNING_ALGORITHM}`, keyId);
  if (!out.PublicKey || !out.KeyId) throw new ResourceError(`${what}: GetPublicKey returned no public key`, keyId, true);
  return { arn: out.KeyId, spki: out.PublicKey };
}

export class KmsSigner implements ManifestSigner {
  private publicKeyPromise: Promise<KmsPublicKey> | undefined;

  /** `key`: the key's ARN, id or alias (`alias/…`), as KMS accepts it. */
  constructor(
    private readonly kms: KMSClient,
    private readonly key: string,
  ) {}

  /** `kms:<key arn>`: the ARN, whatever name the signer was given, so the id is stable. */
  async keyId(): Promise<string> {
    return `kms:${(await this.describe()).arn}`;
  }

  async publicKey(): Promise<Uint8Array> {
    return (await this.describe()).spki;
  }

  async sign(payload: Uint8Array): Promise<Uint8Array> {
    const out = await this.kms.send(
      new SignCommand({ KeyId: this.key, Message: sha256(payload), MessageType: 'DIGEST', SigningAlgorithm: SIGNING_ALGORITHM }),
    );
    if (!out.Signature) throw new ResourceError(`KMS key ${this.key}: Sign returned no signature`, this.key, true);
    return out.Signature;
  }

  /** Fetched once; a failed fetch is forgotten so the next call tries again. */
  private describe(): Promise<KmsPublicKey> {
    this.publicKeyPromise ??= fetchKmsPublicKey(this.kms, this.key).catch((error: unknown) => {
      this.publicKeyPromise = undefined;
      throw error;
    });
    return this.publicKeyPromise;
  }
}
