// The OIDC mode's Lambda authorizer (API Gateway REST, TOKEN or REQUEST type): verifies the bearer
// JWT against the issuer's JWKS (lib/adapters/api/jwt-verifier.ts, the local API's code path
// too) and answers a policy that allows exactly the routes whose scope the token holds. API
// Gateway caches the policy per token, so it names every allowed route, not just the one called.
//
// A token that fails verification is `throw new Error('Unauthorized')`: the one answer API Gateway
// turns into a 401 (its UNAUTHORIZED gateway response, in the envelope). A token without the
// scope of the route called gets a policy that does not allow it: a 403 (ACCESS_DENIED).
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { EdgeError } from '../../lib/core/api/errors';
import { policyFor } from '../../lib/core/api/scopes';
import { readAuthorizerEnv } from '../../lib/adapters/api/env';
import { JwtVerifier } from '../../lib/adapters/api/jwt-verifier';

const env = readAuthorizerEnv();
const logger = new Logger({ serviceName: 'authorizer' });
const metrics = new Metrics({ namespace: 'Fathom', serviceName: 'authorizer' });
// Keys are fetched on first use and cached for the life of the execution environment; a token
// signed with an unknown `kid` makes jose fetch the JWKS again (key rotation), at most every 30 s.
const verifier = JwtVerifier.remote({ issuer: env.issuer, audience: env.audience, jwksUrl: env.jwksUrl });

type AuthorizerEvent = APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent;

/** The Authorization value: the token of a TOKEN authorizer, the header of a REQUEST one. */
function authorizationOf(event: AuthorizerEvent): string | undefined {
  if (event.type === 'TOKEN') return event.authorizationToken;
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'authorization');
  return key === undefined ? undefined : (headers[key] ?? undefined);
}

export const handler = middy(async (event: AuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  let token;
  try {
    token = await verifier.verifyAuthorization(authorizationOf(event));
  } catch (error) {
    if (error instanceof EdgeError) {
      logger.warn('token refused', { reason: error.message });
      metrics.addMetric('TokensRefused', MetricUnit.Count, 1);
      throw new Error('Unauthorized');
    }
    // The issuer's keys are out of reach: API Gateway answers 500 (AUTHORIZER_FAILURE), not 401.
    logger.error('token not verified', { error: error as Error });
    metrics.addMetric('AuthorizerFailures', MetricUnit.Count, 1);
    throw error;
  }
  const policy = policyFor(event.methodArn, token.scopes);
  metrics.addMetric('TokensAccepted', MetricUnit.Count, 1);
  return {
    principalId: token.clientId,
    policyDocument: { Version: policy.Version, Statement: policy.Statement.map((s) => ({ Action: s.Action, Effect: s.Effect, Resource: [...s.Resource] })) },
    // Context values reach the integration as requestContext.authorizer.<key> (strings only).
    context: { client_id: token.clientId, scope: [...token.scopes].join(' ') },
  };
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
