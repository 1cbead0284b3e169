// The API edge's own refusals (no token, a missing scope, an unknown route, a body too large, a
// quota spent) and the one mapping from any error to the envelope a client is told. Everything
// that is not an edge refusal goes through the scoring core's `errorAnswer`, so handlers, the local
// API and API Gateway's gateway responses speak one envelope with one set of codes.
import { FathomError } from '../errors';
import { errorAnswer, type ErrorAnswer } from '../scoring/errors';

/** The codes of the edge's own refusals, with their HTTP status. */
export const EDGE_ERRORS = {
  bad_request: 400,
  validation_error: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  quota_exceeded: 429,
  internal_error: 500,
  unavailable: 503,
  timeout: 504,
} as const;
export type EdgeErrorCode = keyof typeof EDGE_ERRORS;

/**
 * A request the edge refuses before (or instead of) any handler. `headers` are answered with the
 * envelope: `Retry-After` on a 429, `Allow` on a 405, `WWW-Authenticate` on a 401.
 */
export class EdgeError extends FathomError {
  constructor(
    code: EdgeErrorCode,
    message: string,
    readonly field?: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** The code's own status unless a gateway response says otherwise (502 for a failed integration). */
    readonly status: number = EDGE_ERRORS[code],
  ) {
    super(message, code);
  }
}

/** No such entity or model: a 404 naming the path parameter. */
export class NotFoundError extends EdgeError {
  constructor(message: string, field: string) {
    super('not_found', message, field);
  }
}

/** What the client is told about `error`: edge refusals as they are, anything else as the scoring core maps it. */
export function edgeErrorAnswer(error: unknown, requestId: string): ErrorAnswer {
  if (error instanceof EdgeError) {
    return {
      status: error.status,
      clientError: error.status < 500,
      body: { error: { code: error.code, message: error.message, ...(error.field !== undefined ? { field: error.field } : {}), request_id: requestId } },
    };
  }
  return errorAnswer(error, requestId);
}

/**
 * API Gateway's own responses (its gateway response types) in the envelope: the status, code and
 * message each one answers with. The CDK API stack sets them as gateway responses (with
 * `$context.requestId` as the request id); the local API answers the same codes for the same cases.
 * Messages are fixed text: a gateway response never echoes internals.
 */
export const GATEWAY_RESPONSES = {
  BAD_REQUEST_BODY: { status: 400, code: 'validation_error', message: 'the request body does not match the route schema' },
  BAD_REQUEST_PARAMETERS: { status: 400, code: 'validation_error', message: 'a request parameter is invalid' },
  UNAUTHORIZED: { status: 401, code: 'unauthorized', message: 'a valid bearer token is required' },
  EXPIRED_TOKEN: { status: 401, code: 'unauthorized', message: 'the bearer token has expired' },
  INVALID_SIGNATURE: { status: 401, code: 'unauthorized', message: 'the bearer token signature does not verify' },
  MISSING_AUTHENTICATION_TOKEN: { status: 404, code: 'not_found', message: 'no such route' },
  ACCESS_DENIED: { status: 403, code: 'forbidden', message: 'the token lacks the scope this route needs' },
  INVALID_API_KEY: { status: 403, code: 'forbidden', message: 'a valid x-api-key header is required' },
  WAF_FILTERED: { status: 403, code: 'forbidden', message: 'the request was blocked by the web application firewall' },
  RESOURCE_NOT_FOUND: { status: 404, code: 'not_found', message: 'no such route' },
  REQUEST_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'the request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'the content type must be application/json' },
  THROTTLED: { status: 429, code: 'too_many_requests', message: 'request rate exceeded; retry with backoff' },
  QUOTA_EXCEEDED: { status: 429, code: 'quota_exceeded', message: 'daily request quota exceeded' },
  AUTHORIZER_FAILURE: { status: 500, code: 'internal_error', message: 'internal error; the request id finds the cause in the logs' },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, code: 'internal_error', message: 'internal error; the request id finds the cause in the logs' },
  INTEGRATION_FAILURE: { status: 502, code: 'internal_error', message: 'internal error; the request id finds the cause in the logs' },
  INTEGRATION_TIMEOUT: { status: 504, code: 'timeout', message: 'the request timed out; retry with backoff' },
  DEFAULT_4XX: { status: 400, code: 'bad_request', message: 'the request was refused' },
  DEFAULT_5XX: { status: 500, code: 'internal_error', message: 'internal error; the request id finds the cause in the logs' },
} as const satisfies Record<string, { status: number; code: EdgeErrorCode; message: string }>;
export type GatewayResponseType = keyof typeof GATEWAY_RESPONSES;

/** The refusal API Gateway answers with its gateway response `type`. */
export function gatewayError(type: GatewayResponseType, headers: Readonly<Record<string, string>> = {}): EdgeError {
  const r = GATEWAY_RESPONSES[type];
  return new EdgeError(r.code, r.message, undefined, headers, r.status);
}

/** The envelope of a gateway response as an API Gateway response template (VTL): the request id from the context. */
export function gatewayResponseTemplate(type: GatewayResponseType): string {
  const r = GATEWAY_RESPONSES[type];
  return `{"error":{"code":"${r.code}","message":"${r.message}","request_id":"$context.requestId"}}`;
}
