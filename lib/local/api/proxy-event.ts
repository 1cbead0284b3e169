// An HTTP request as API Gateway's REST proxy integration hands it to a Lambda: the resource and
// its path parameters, headers single- and multi-valued, the query string, the body as text, and
// a request context with the request id, the stage, the caller's API key and address, and the
// authorizer's answer (the verified token's client, scopes and claims).
import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { API_STAGE, type RouteDefinition } from '../../core/api/routes';
import type { VerifiedToken } from '../../adapters/api/jwt-verifier';
import { LOCAL_ACCOUNT_ID } from '../aws-clients';

export interface ProxyRequest {
  readonly requestId: string;
  readonly route: RouteDefinition;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly query: URLSearchParams;
  readonly body: string | null;
  readonly token: VerifiedToken;
  readonly apiKey: { readonly id: string; readonly value: string };
  readonly sourceIp: string;
  readonly receivedAt: number;
}

/** The local API's id in ARNs and contexts; on AWS it is the REST API's generated id. */
export const LOCAL_API_ID = 'local';

export function toProxyEvent(r: ProxyRequest): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(r.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    multiValueHeaders[name] = values;
    headers[name] = values.at(-1)!;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of r.query) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const hasParams = Object.keys(r.params).length > 0;
  const resourcePath = r.route.path;
  const path = resourcePath.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(r.params[name] ?? ''));
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.token.claims)) claims[name] = typeof value === 'string' ? value : JSON.stringify(value);
  const scope = [...r.token.scopes].join(' ');
  return {
    resource: resourcePath,
    path,
    httpMethod: r.route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: hasParams ? { ...r.params } : null,
    stageVariables: null,
    body: r.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      // A Lambda authorizer's context keys and principal, and Cognito's `claims`: either mode's handler finds what it reads.
      authorizer: { principalId: r.token.clientId, client_id: r.token.clientId, scope, claims },
      protocol: 'HTTP/1.1',
      httpMethod: r.route.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: r.apiKey.value,
        apiKeyId: r.apiKey.id,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: r.sourceIp,
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${API_STAGE}${path}`,
      stage: API_STAGE,
      requestId: r.requestId,
      requestTimeEpoch: r.receivedAt,
      resourceId: resourcePath,
      resourcePath,
    },
  };
}
