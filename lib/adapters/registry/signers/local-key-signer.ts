// Signs manifests with a P-256 key pair kept as PEM files, the local platform's stand-in for the
// KMS key: `<dir>/model-signing.pem` (PKCS#8, mode 0600) and `<dir>/model-signing.pub.pem` (SPKI,
// what `local:<path>` in ENV.modelSigningKey trusts). Created on first use. Signatures are DER
// ECDSA over SHA-256, byte-compatible with what KMS returns, so one verifier checks both.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../../core/errors';
import type { ManifestSigner } from '../../../core/registry/signing';

export const LOCAL_KEY_BASENAME = 'model-signing';

export interface LocalKeyPaths {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

export function localKeyPaths(dir: string, basename = LOCAL_KEY_BASENAME): LocalKeyPaths {
  return { privateKeyPath: join(dir, `${basename}.pem`), publicKeyPath: join(dir, `${basename}.pub.pem`) };
}

/** `local:<hex SHA-256 of the SPKI DER>`: names a local key in a manifest without naming a path. */
export function localKeyId(spki: Uint8Array): string {
  return `local:${createHash('sha256').update(spki).digest('hex')}`;
}

function readExisting(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export class LocalKeySigner implements ManifestSigner {
  private readonly spki: Uint8Array;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly paths: LocalKeyPaths,
  ) {
    this.spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  }

  /**
   * The key pair in `dir`, created when absent. Creation uses an exclusive write, so two processes
   * starting at once end up with the same key; the public file is rewritten from the private key
   * when missing (a crash between the two writes).
   */
  static open(dir: string, basename = LOCAL_KEY_BASENAME): LocalKeySigner {
    const paths = localKeyPaths(dir, basename);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    let pem = readExisting(paths.privateKeyPath);
    if (pem === undefined) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      try {
        writeFileSync(paths.privateKeyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { flag: 'wx', mode: 0o600 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      pem = readFileSync(paths.privateKeyPath, 'utf8');
    }
    // A umask can widen the mode given at creation; a signing key is the owner's alone.
    chmodSync(paths.privateKeyPath, 0o600);
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new ConfigError(`${paths.privateKeyPath} is not a P-256 private key`, paths.privateKeyPath);
    }
    if (readExisting(paths.publicKeyPath) === undefined) {
      writeFileSync(paths.publicKeyPath, createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }), { mode: 0o644 });
    }
    return new LocalKeySigner(privateKey, paths);
  }

  async keyId(): Promise<string> {
    return localKeyId(this.spki);
  }

  async publicKey(): Promise<Uint8Array> {
    return this.spki;
  }

  async sign(payload: Uint8Array): Promise<Uint8Array> {
    return sign('sha256', payload, { key: this.privateKey, dsaEncoding: 'der' });
  }
}
