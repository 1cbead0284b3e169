// The signing port and the trusted-key setting. Both signers (a KMS asymmetric key on AWS, a local
// key pair on a laptop) produce DER-encoded ECDSA P-256 / SHA-256 signatures over the same payload
// (`signingPayload(manifest)`), so one verifier checks either; it trusts only keys named by
// configuration, never a key a package names.
import { ConfigError } from '../errors';
import { ENV } from '../resources';

export const SIGNING_ALGORITHM = 'ECDSA_SHA_256' as const;

export interface ManifestSigner {
  /** What goes into the manifest's `signature.key_id`: `kms:<key arn>` or `local:<fingerprint>`. */
  keyId(): Promise<string>;
  /** A DER-encoded ECDSA signature over SHA-256(payload). */
  sign(payload: Uint8Array): Promise<Uint8Array>;
  /** The public key, SubjectPublicKeyInfo DER: what a verifier must be configured with. */
  publicKey(): Promise<Uint8Array>;
}

/** A configured trusted key, before its public key is fetched or read. */
export type TrustedKeySetting = { readonly kind: 'kms'; readonly keyId: string } | { readonly kind: 'local'; readonly path: string };

/**
 * Parses ENV.modelSigningKey: one or more comma-separated `kms:<key arn or id>` or
 * `local:<path to a public key PEM>` (more than one while a key is being rotated).
 */
export function parseTrustedKeySetting(value: string | undefined, field: string = ENV.modelSigningKey): TrustedKeySetting[] {
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(`${field} must name the key model signatures verify with: kms:<key arn> or local:<public key PEM path>`, field);
  }
  return value.split(',').map((raw) => {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    const kind = colon < 0 ? '' : entry.slice(0, colon);
    const rest = colon < 0 ? '' : entry.slice(colon + 1).trim();
    if (rest === '' || (kind !== 'kms' && kind !== 'local')) {
      throw new ConfigError(`${field}: "${entry}" must be kms:<key arn> or local:<public key PEM path>`, field);
    }
    return kind === 'kms' ? { kind, keyId: rest } : { kind, path: rest };
  });
}
