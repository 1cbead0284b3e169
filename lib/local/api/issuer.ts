// The local token issuer: an ES256 key pair under the data dir (`<dataDir>/keys/api-issuer.jwk.json`,
// created on first use, owner-only), the local counterpart of Cognito or an OIDC issuer. The local
// API publishes its public half at /.well-known/jwks.json and verifies tokens with the same
// JwtVerifier as the OIDC mode's authorizer; `fathom token` signs with the private half. The key
// survives `--fresh` (which wipes the stores, not the keys), so issued tokens stay valid until
// they expire.
import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import type { Scope } from '../../core/api/routes';
import { ConfigError, ValidationError } from '../../core/errors';
import { JwtVerifier } from '../../adapters/api/jwt-verifier';

/** `iss` of every local token. */
export const LOCAL_ISSUER = 'urn:fathom:local-issuer';
/** `aud` of every local token. */
export const LOCAL_AUDIENCE = 'fathom-api';
const ALGORITHM = 'ES256';
/** One hour, like the Cognito access tokens of the default config. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const MAX_TOKEN_TTL_SECONDS = 7 * 86_400;

export const issuerKeyPath = (dataDir: string): string => join(dataDir, 'keys', 'api-issuer.jwk.json');

export interface IssuedToken {
  readonly token: string;
  readonly client: string;
  readonly scopes: readonly Scope[];
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface TokenRequest {
  readonly client: string;
  readonly scopes: readonly Scope[];
  readonly ttlSeconds?: number;
  /** Epoch ms; default now. */
  readonly now?: number;
}

export class LocalIssuer {
  private constructor(
    private readonly privateKey: Awaited<ReturnType<typeof importJWK>>,
    private readonly publicJwk: JWK,
  ) {}

  /** Opens the data dir's key pair, creating it when absent (safe when two processes race: one file wins). */
  static async open(dataDir: string): Promise<LocalIssuer> {
    const path = issuerKeyPath(dataDir);
    let jwk = readKey(path);
    if (!jwk) {
      const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      const fresh = await exportJWK(privateKey);
      const created: JWK = { ...fresh, kid: await calculateJwkThumbprint(fresh), alg: ALGORITHM, use: 'sig' };
      mkdirSync(join(dataDir, 'keys'), { recursive: true });
      const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(created)}\n`, { mode: 0o600 });
      try {
        // A hard link fails when the target exists: the first writer's key is the key.
        linkSync(tmp, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        rmSync(tmp, { force: true });
      }
      jwk = readKey(path);
      if (!jwk) throw new ConfigError(`${path}: the issuer key could not be created`, 'issuer');
    }
    const { d: _private, ...publicJwk } = jwk;
    return new LocalIssuer(await importJWK(jwk, ALGORITHM), publicJwk);
  }

  get keyId(): string {
    return this.publicJwk.kid ?? '';
  }

  /** The JWKS the local API serves at /.well-known/jwks.json. */
  jwks(): JSONWebKeySet {
    return { keys: [{ ...this.publicJwk }] };
  }

  /** The verifier of this issuer's tokens: the authorizer's code path with local keys. */
  verifier(): JwtVerifier {
    return JwtVerifier.local({ issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, jwks: this.jwks() });
  }

  /** An access token for `client` with `scopes`, shaped as Cognito's client-credentials tokens are (client_id, space-separated scope). */
  async sign(request: TokenRequest): Promise<IssuedToken> {
    const ttl = request.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) throw new ValidationError(`ttl must be an integer from 1 to ${MAX_TOKEN_TTL_SECONDS} seconds`, 'ttl');
    if (request.scopes.length === 0) throw new ValidationError('scopes must name at least one scope', 'scopes');
    const now = Math.floor((request.now ?? Date.now()) / 1000);
    const token = await new SignJWT({ client_id: request.client, scope: request.scopes.join(' '), token_use: 'access' })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.keyId, typ: 'at+jwt' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setSubject(request.client)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { token, client: request.client, scopes: [...request.scopes], expiresAt: now + ttl };
  }
}

function readKey(path: string): JWK | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new ConfigError(`${path}: the issuer key is not valid JSON; delete it to have a new one created (tokens it signed stop working)`, 'issuer');
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new ConfigError(`${path}: not an EC P-256 private key; delete it to have a new one created`, 'issuer');
  }
  return jwk;
}
