// The OIDC mode's Lambda authorizer as Lambda runs it (environment first, module second), against
// an issuer's JWKS served over HTTP: a valid token gets a policy allowing exactly the routes of its
// scopes (bare or `fathom/` form) on the API and stage of the call; a bad one is 'Unauthorized'
// (API Gateway's 401); an issuer whose keys cannot be fetched is a failure (500), not a 401.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, APIGatewayTokenAuthorizerEvent, Context } from 'aws-lambda';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceError } from '../../lib/core/errors';
import { ENV } from '../../lib/core/resources';
import { JwtVerifier } from '../../lib/adapters/api/jwt-verifier';
import { LocalIssuer, LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../lib/local/api/issuer';

type Authorizer = (event: APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent, context: Context) => Promise<APIGatewayAuthorizerResult>;

const API = 'arn:aws:execute-api:eu-west-1:123456789012:abc123';
const METHOD_ARN = `${API}/v1/POST/score`;

let dir: string;
let issuer: LocalIssuer;
let server: Server;
let jwksUp = true;
let handler: Authorizer;
/** A second key the issuer publishes, for tokens shaped by hand (other claims, other scope forms). */
let handKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const restore: Array<() => void> = [];

function setEnv(name: string, value: string): void {
  const previous = process.env[name];
  process.env[name] = value;
  restore.push(() => (previous === undefined ? delete process.env[name] : (process.env[name] = previous)));
}

const context = { awsRequestId: 'auth-1', functionName: 'fathom-authorizer', getRemainingTimeInMillis: () => 3000 } as unknown as Context;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fathom-authorizer-'));
  issuer = await LocalIssuer.open(dir);
  const pair = await generateKeyPair('ES256', { extractable: true });
  handKey = pair.privateKey;
  const handJwk = { ...(await exportJWK(pair.publicKey)), kid: 'hand', alg: 'ES256', use: 'sig' };
  server = createServer((_req, res) => {
    if (!jwksUp) return void res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [...issuer.jwks().keys, handJwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  setEnv(ENV.oidcIssuer, LOCAL_ISSUER);
  setEnv(ENV.oidcAudience, LOCAL_AUDIENCE);
  setEnv(ENV.oidcJwksUrl, `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`);
  setEnv('POWERTOOLS_LOG_LEVEL', 'ERROR');
  setEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  ({ handler } = (await import('../../lambdas/authorizer/handler')) as unknown as { handler: Authorizer });
});

afterAll(async () => {
  for (const r of restore.splice(0).reverse()) r();
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A token signed with the hand key: `claims` as given, then the standard ones unless overridden. */
async function handToken(claims: Record<string, unknown>, options: { audience?: string; expiresIn?: number | null } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'hand' }).setIssuer(LOCAL_ISSUER).setAudience(options.audience ?? LOCAL_AUDIENCE).setIssuedAt(now);
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 60));
  return jwt.sign(handKey);
}

const tokenEvent = (token: string, methodArn = METHOD_ARN): APIGatewayTokenAuthorizerEvent => ({ type: 'TOKEN', authorizationToken: `Bearer ${token}`, methodArn });

describe('OIDC authorizer', () => {
  it('allows exactly the routes of the token scopes, on every method of the stage', async () => {
    const { token } = await issuer.sign({ client: 'acme', scopes: ['score', 'read'] });
    const result = await handler(tokenEvent(token), context);
    expect(result.principalId).toBe('acme');
    expect(result.context).toEqual({ client_id: 'acme', scope: 'score read' });
    expect(result.policyDocument.Statement).toEqual([
      {
        Action: 'execute-api:Invoke',
        Effect: 'Allow',
        Resource: [`${API}/v1/POST/score`, `${API}/v1/GET/features/*`, `${API}/v1/GET/models`, `${API}/v1/GET/models/*`],
      },
    ]);
  });

  it('reads Cognito-style `fathom/<scope>` scopes and a REQUEST authorizer event', async () => {
    const token = await handToken({ client_id: 'cognito-client', scope: 'fathom/ingest fathom/label other/read' });
    const event = { type: 'REQUEST', methodArn: `${API}/v1/POST/events`, headers: { Authorization: `Bearer ${token}` } } as unknown as APIGatewayRequestAuthorizerEvent;
    const result = await handler(event, context);
    expect(result.principalId).toBe('cognito-client');
    expect(result.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: [`${API}/v1/POST/events`, `${API}/v1/POST/labels`] }]);
  });

  it('denies the whole stage to a valid token with no Fathom scope (API Gateway: 403, not 401)', async () => {
    const denied = await handler(tokenEvent(await handToken({ client_id: 'nobody', scope: 'openid email' })), context);
    expect(denied.principalId).toBe('nobody');
    expect(denied.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${API}/v1/*`] }]);
  });

  it("answers 'Unauthorized' for a missing, expired, wrong-audience, expiry-less, HMAC or tampered token", async () => {
    await expect(handler({ type: 'TOKEN', authorizationToken: '', methodArn: METHOD_ARN }, context)).rejects.toThrow(/^Unauthorized$/);
    const expired = (await issuer.sign({ client: 'acme', scopes: ['score'], ttlSeconds: 60, now: Date.now() - 7_200_000 })).token;
    await expect(handler(tokenEvent(expired), context)).rejects.toThrow(/^Unauthorized$/);
    await expect(handler(tokenEvent(await handToken({ client_id: 'acme', scope: 'score' }, { audience: 'someone-else' })), context)).rejects.toThrow(/^Unauthorized$/);
    await expect(handler(tokenEvent(await handToken({ client_id: 'acme', scope: 'score' }, { expiresIn: null })), context)).rejects.toThrow(/^Unauthorized$/);
    const now = Math.floor(Date.now() / 1000);
    const hs = await new SignJWT({ client_id: 'acme', scope: 'score' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(LOCAL_ISSUER).setAudience(LOCAL_AUDIENCE).setExpirationTime(now + 60).sign(new Uint8Array(32));
    await expect(handler(tokenEvent(hs), context)).rejects.toThrow(/^Unauthorized$/);
    const good = (await issuer.sign({ client: 'acme', scopes: ['score'] })).token;
    const [h, p, sig] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'score ingest label read' })).toString('base64url')}.${sig}`;
    await expect(handler(tokenEvent(tampered), context)).rejects.toThrow(/^Unauthorized$/);
  });

  it('reports keys that cannot be fetched as a retryable failure (a 500 from API Gateway), not as a bad token', async () => {
    jwksUp = false;
    try {
      // A verifier that has never fetched the keys, as a fresh execution environment.
      const verifier = JwtVerifier.remote({ issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, jwksUrl: process.env[ENV.oidcJwksUrl]! });
      const { token } = await issuer.sign({ client: 'acme', scopes: ['score'] });
      const error = await verifier.verify(token).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ResourceError);
      expect((error as ResourceError).retryable).toBe(true);
    } finally {
      jwksUp = true;
    }
  });
});
