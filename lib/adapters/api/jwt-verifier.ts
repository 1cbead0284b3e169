// Bearer-token verification of the API edge, one code path for the OIDC mode's Lambda authorizer
// (keys from the issuer's JWKS URL) and the local API (keys from the local issuer's JWKS): the
// signature with an asymmetric algorithm only, then issuer, audience and expiry, then the scopes.
// A token that fails any check is a 401 saying which check, never more (no key, no stack); keys
// that cannot be fetched are a retryable ResourceError (503), not the client's fault.
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { EdgeError } from '../../core/api/errors';
import { ResourceError } from '../../core/errors';
import type { Scope } from '../../core/api/routes';
import { scopesFromClaim } from '../../core/api/scopes';

/** Asymmetric algorithms only: an HMAC token would be signed with a secret the verifier must share. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export interface VerifiedToken {
  /** The client the token was issued to: `client_id` (Cognito, RFC 9068), else `azp`, else `sub`. */
  readonly clientId: string;
  readonly subject: string | undefined;
  readonly scopes: ReadonlySet<Scope>;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly claims: JWTPayload;
}

export interface JwtVerifierOptions {
  readonly issuer: string;
  /** Required `aud`; absent for issuers whose access tokens carry none (Cognito's carry `client_id`). */
  readonly audience?: string;
  readonly keys: JWTVerifyGetKey;
  /** Leeway for `exp` and `nbf` against clock skew. Default 30 s. */
  readonly clockToleranceSeconds?: number;
}

const unauthorized = (message: string) => new EdgeError('unauthorized', message, 'authorization', { 'www-authenticate': 'Bearer' });

export class JwtVerifier {
  constructor(private readonly options: JwtVerifierOptions) {}

  /** Keys fetched (and cached, and refetched for an unknown `kid`) from a JWKS URL. */
  static remote(options: Omit<JwtVerifierOptions, 'keys'> & { readonly jwksUrl: string }): JwtVerifier {
    return new JwtVerifier({ ...options, keys: createRemoteJWKSet(new URL(options.jwksUrl)) });
  }

  /** Keys given as a JWKS document. */
  static local(options: Omit<JwtVerifierOptions, 'keys'> & { readonly jwks: JSONWebKeySet }): JwtVerifier {
    return new JwtVerifier({ ...options, keys: createLocalJWKSet(options.jwks) });
  }

  /**
   * Verifies the value of an Authorization header (`Bearer <jwt>`).
   * @throws EdgeError `unauthorized` (401) naming what is wrong with the token.
   */
  async verifyAuthorization(header: string | undefined): Promise<VerifiedToken> {
    return this.verify(bearerToken(header));
  }

  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.options.keys, {
        issuer: this.options.issuer,
        ...(this.options.audience !== undefined ? { audience: this.options.audience } : {}),
        algorithms: [...ACCEPTED_ALGORITHMS],
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      // The issuer's keys out of reach is the platform's failure, not the client's token: a 503.
      // (jose raises a bare JOSEError when the JWKS answer is not a 200.)
      if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError) || error.constructor === errors.JOSEError) {
        throw new ResourceError(`token keys unavailable: ${error instanceof Error ? error.message : String(error)}`, 'jwks', true);
      }
      throw unauthorized(reasonOf(error));
    }
    const clientId = [payload['client_id'], payload['azp'], payload.sub].find((v): v is string => typeof v === 'string' && v !== '');
    if (clientId === undefined) throw unauthorized('the token names no client (client_id, azp or sub)');
    return { clientId, subject: payload.sub, scopes: scopesFromClaim(payload['scope'] ?? payload['scp']), expiresAt: payload.exp ?? 0, claims: payload };
  }
}

/** The token of a `Bearer <token>` header value. @throws EdgeError 401 when absent or not a bearer token. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw unauthorized('a bearer token is required (Authorization: Bearer <token>)');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  if (!match) throw unauthorized('the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

/** What a client may be told about a token that failed: which check, in jose's terms, never a key or a stack. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not accepted';
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is signed with a key the issuer does not publish';
  if (error instanceof errors.JOSENotSupported) return 'the token uses a key type or algorithm that is not supported';
  return 'the token is not a valid JWT';
}
