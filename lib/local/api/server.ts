// The local API: what API Gateway (and the WAF in front of it) does on AWS, over node:http, for
// the routes of lib/core/api/routes.ts. In order, as a request meets them there:
//   body size (WAF's body-size rule)                     413
//   route and method                                     404, 405
//   bearer token (JWT, the authorizer's verifier)        401; the route's scope: 403
//   x-api-key and its usage plan (token bucket, quota)   403; 429 with Retry-After
//   content type (POST)                                  415
//   body: UTF-8, JSON, the route's schema                400 naming the field
//   integration: the route's Lambda handler with an API Gateway proxy event, or PutRecords on the
//   local Kinesis for /events, as the direct integration's mapping templates do on AWS.
// Every refusal is the one envelope (lib/core/api/errors.ts), with the request id also in the
// `x-amzn-requestid` header. The public half of the local issuer's key is served at
// /.well-known/jwks.json.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { JSONWebKeySet } from 'jose';
import { EdgeError, edgeErrorAnswer, gatewayError } from '../../core/api/errors';
import { eventsAnswer, EVENTS_UNAVAILABLE_MESSAGE } from '../../core/api/events-integration';
import { matchRoute } from '../../core/api/match';
import { parseJsonBody } from '../../core/api/request';
import { EventsRequestSchema, MAX_BODY_BYTES, type RouteDefinition, type RouteTarget } from '../../core/api/routes';
import { UsagePlanMeter, type UsagePlanLimits } from '../../core/api/usage-plan';
import { ResourceError } from '../../core/errors';
import type { JwtVerifier, VerifiedToken } from '../../adapters/api/jwt-verifier';
import type { LocalApiKey } from './api-keys';
import { FunctionTimeoutError, type ApiFunctionPool } from './function-pool';
import { toProxyEvent } from './proxy-event';

export type LambdaTargetName = Extract<RouteTarget, { kind: 'lambda' }>['handler'];

export const JWKS_PATH = '/.well-known/jwks.json';
export const DEFAULT_API_PORT = 3000;
/** Bodies up to this size are read (and dropped) before a 413, so that the client gets to read the answer. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

export interface LocalApiOptions {
  readonly host?: string;
  /** 0 picks a free port. Default DEFAULT_API_PORT. */
  readonly port?: number;
  readonly functions: Readonly<Record<LambdaTargetName, Pick<ApiFunctionPool, 'invoke'>>>;
  /** The events route's integration: PutRecords on this stream. */
  readonly kinesis: Pick<KinesisClient, 'send'>;
  readonly streamName: string;
  readonly partitionKeyField: string;
  readonly verifier: JwtVerifier;
  readonly jwks: JSONWebKeySet;
  readonly apiKeys: readonly LocalApiKey[];
  readonly tiers: Readonly<Record<string, UsagePlanLimits>>;
  /** Default MAX_BODY_BYTES. */
  readonly maxBodyBytes?: number;
  readonly now?: () => number;
  /** Integration failures (5xx) are reported here with their cause; the client gets the envelope only. */
  readonly log?: (line: string) => void;
}

export interface LocalApiStats {
  readonly requests: number;
  readonly byStatus: Readonly<Record<string, number>>;
}

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  stats(): LocalApiStats;
  close(): Promise<void>;
}

interface KeyState {
  readonly key: LocalApiKey;
  readonly id: string;
  readonly meter: UsagePlanMeter;
}

export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const keys = new Map<string, KeyState>();
  for (const key of options.apiKeys) {
    const limits = options.tiers[key.tier];
    if (!limits) throw new EdgeError('internal_error', `API key of client ${key.client}: no tier ${key.tier}`);
    keys.set(key.key, { key, id: `local-${key.client}`, meter: new UsagePlanMeter(limits, now()) });
  }
  const byStatus: Record<string, number> = {};
  let requests = 0;
  const tokens = new TokenCache(options.verifier, now);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const receivedAt = now();
    requests++;
    const send = (status: number, body: string, headers: Readonly<Record<string, string>> = {}) => {
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers, 'x-amzn-requestid': requestId });
      res.end(body);
    };
    const refuse = (error: unknown, extra: Record<string, string> = {}) => {
      const answer = edgeErrorAnswer(error, requestId);
      // Edge refusals of 5xx (a failed integration) were reported where they arose, with their cause.
      if (!answer.clientError && !(error instanceof EdgeError)) log(`${req.method} ${req.url} ${answer.status} ${requestId}: ${describe(error)}`);
      send(answer.status, JSON.stringify(answer.body), { ...(error instanceof EdgeError ? error.headers : {}), ...extra });
    };

    try {
      const body = await readBody(req, maxBody);
      if (body === 'too_large') {
        // The rest was read and dropped or the connection is closed after the answer: either way
        // the client can read it, and no half-read body is left on a kept-alive connection.
        refuse(new EdgeError('payload_too_large', `the request body is larger than ${maxBody} bytes`, 'body'), { connection: 'close' });
        return;
      }
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://local');
      } catch {
        refuse(new EdgeError('bad_request', 'the request target is not a valid URL'));
        return;
      }
      if (req.method === 'GET' && url.pathname === JWKS_PATH) {
        send(200, JSON.stringify(options.jwks), { 'cache-control': 'max-age=300' });
        return;
      }
      const match = matchRoute(req.method ?? '', url.pathname);
      if (match.kind === 'not_found') return refuse(gatewayError('RESOURCE_NOT_FOUND'));
      if (match.kind === 'bad_path') return refuse(new EdgeError('bad_request', `the path segment ${match.segment.slice(0, 64)} is not valid percent-encoding`, 'path'));
      if (match.kind === 'method_not_allowed') {
        return refuse(new EdgeError('method_not_allowed', `${req.method} is not allowed here; allowed: ${match.allowed.join(', ')}`, 'method', { allow: match.allowed.join(', ') }));
      }
      const { route, params } = match;

      const token = await tokens.verify(header(req, 'authorization'));
      if (!token.scopes.has(route.scope)) throw new EdgeError('forbidden', `the token lacks the scope ${route.scope} that ${route.method} ${route.path} needs`, 'scope');

      const keyValue = header(req, 'x-api-key');
      const key = keyValue === undefined ? undefined : keys.get(keyValue);
      if (!key) throw gatewayError('INVALID_API_KEY');
      const admission = key.meter.take(now());
      if (!admission.ok) {
        const retryAfter = { 'retry-after': String(admission.retryAfterSeconds) };
        throw admission.reason === 'quota' ? gatewayError('QUOTA_EXCEEDED', retryAfter) : gatewayError('THROTTLED', retryAfter);
      }

      let text: string | null = null;
      if (route.method === 'POST') {
        checkContentType(header(req, 'content-type'));
        text = decodeUtf8(body);
      }
      const integrated = await integrate(route, params, text, { requestId, token, key, req, url, receivedAt });
      send(integrated.statusCode, integrated.body, integrated.headers);
    } catch (error) {
      refuse(error);
    }
  };

  interface Call {
    readonly requestId: string;
    readonly token: VerifiedToken;
    readonly key: KeyState;
    readonly req: IncomingMessage;
    readonly url: URL;
    readonly receivedAt: number;
  }

  const integrate = async (
    route: RouteDefinition,
    params: Readonly<Record<string, string>>,
    text: string | null,
    call: Call,
  ): Promise<{ statusCode: number; body: string; headers: Record<string, string> }> => {
    if (route.target.kind === 'kinesis-put-records') return putEvents(text, call.requestId);
    // The request validator's pass: a body the route's model refuses never reaches the function.
    if (route.body) {
      const parsed = parseJsonBody(route.body, text);
      if (!parsed.ok) throw parsed.error;
    }
    const event = toProxyEvent({
      requestId: call.requestId,
      route,
      params,
      headers: call.req.headers,
      query: call.url.searchParams,
      body: text,
      token: call.token,
      apiKey: { id: call.key.id, value: call.key.key.key },
      sourceIp: call.req.socket.remoteAddress ?? '127.0.0.1',
      receivedAt: call.receivedAt,
    });
    let result: APIGatewayProxyResult;
    try {
      result = await options.functions[route.target.handler].invoke(event);
    } catch (error) {
      log(`${route.method} ${route.path} ${call.requestId}: function ${route.target.handler} failed: ${describe(error)}`);
      throw error instanceof FunctionTimeoutError ? gatewayError('INTEGRATION_TIMEOUT') : gatewayError('INTEGRATION_FAILURE');
    }
    return proxyAnswer(result, route, call.requestId);
  };

  const proxyAnswer = (result: APIGatewayProxyResult, route: RouteDefinition, requestId: string) => {
    // API Gateway refuses a proxy answer it cannot read with a 502: so does this.
    if (!Number.isInteger(result?.statusCode) || result.statusCode < 100 || result.statusCode > 599 || (result.body !== undefined && typeof result.body !== 'string')) {
      log(`${route.method} ${route.path} ${requestId}: function ${route.target.kind === 'lambda' ? route.target.handler : ''} answered a malformed proxy result`);
      throw gatewayError('INTEGRATION_FAILURE');
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name.toLowerCase()] = String(value);
    const body = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64').toString('utf8') : (result.body ?? '');
    return { statusCode: result.statusCode, body, headers };
  };

  const putEvents = async (text: string | null, requestId: string) => {
    const parsed = parseJsonBody(EventsRequestSchema, text);
    if (!parsed.ok) throw parsed.error;
    // `$input.json('$.events[i]')` on AWS: each event's JSON as the client sent it (key order
    // kept), not the schema's output. It passed the strict schema, so it holds nothing else.
    const raw = (JSON.parse(text!) as { events: Record<string, unknown>[] }).events;
    let output;
    try {
      output = await options.kinesis.send(
        new PutRecordsCommand({
          StreamName: options.streamName,
          Records: raw.map((e) => ({ Data: new TextEncoder().encode(JSON.stringify(e)), PartitionKey: String(e[options.partitionKeyField]) })),
        }),
      );
    } catch (error) {
      // As the direct integration maps any 4xx/5xx of PutRecords: a 503 to retry, the cause in the log.
      log(`POST /events ${requestId}: PutRecords on ${options.streamName} failed: ${describe(error)}`);
      throw new EdgeError('unavailable', EVENTS_UNAVAILABLE_MESSAGE);
    }
    return { statusCode: 200, body: JSON.stringify(eventsAnswer(output, requestId)), headers: {} };
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`unexpected failure: ${describe(error)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(edgeErrorAnswer(error, 'unknown').body));
      }
    });
  });
  // Requests node:http cannot parse (a broken request line, a header too large) get the envelope too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (error.code === 'ECONNRESET' && !socket.readable)) return socket.destroy();
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({ error: { code: tooLarge ? 'payload_too_large' : 'bad_request', message: tooLarge ? 'the request headers are too large' : 'the request is not valid HTTP/1.1', request_id: randomUUID() } });
    socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) => reject(new ResourceError(`local API could not listen on ${host}:${options.port ?? DEFAULT_API_PORT}: ${error.message}`, 'api', false)));
    server.listen(options.port ?? DEFAULT_API_PORT, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    stats: () => ({ requests, byStatus: { ...byStatus } }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a moment to finish; then their sockets go too.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }),
  };
}

/**
 * Verified tokens, remembered as API Gateway remembers an authorizer's answer per token (the OIDC
 * mode's `resultsCacheSeconds`, 300 by default): for that long, and never past the token's own
 * expiry. Refusals are not remembered.
 */
class TokenCache {
  private readonly entries = new Map<string, { readonly token: VerifiedToken; readonly until: number }>();
  private static readonly TTL_MS = 300_000;
  private static readonly MAX_ENTRIES = 10_000;

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly now: () => number,
  ) {}

  async verify(authorization: string | undefined): Promise<VerifiedToken> {
    const now = this.now();
    const hit = authorization === undefined ? undefined : this.entries.get(authorization);
    if (hit && hit.until > now) return hit.token;
    if (hit) this.entries.delete(authorization!);
    const token = await this.verifier.verifyAuthorization(authorization);
    // A full cache starts over: simpler than LRU, and a local API holds few live tokens.
    if (this.entries.size >= TokenCache.MAX_ENTRIES) this.entries.clear();
    this.entries.set(authorization!, { token, until: Math.min(now + TokenCache.TTL_MS, token.expiresAt * 1000) });
    return token;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.at(-1) : value;
}

/**
 * API Gateway matches request models by content type; with passthrough NEVER an unmatched one is a
 * 415. No Content-Type at all is read as application/json, as API Gateway does.
 */
function checkContentType(value: string | undefined): void {
  if (value === undefined || value.trim() === '') return;
  const [type = '', ...parameters] = value.split(';').map((s) => s.trim().toLowerCase());
  const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (type !== 'application/json' || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new EdgeError('unsupported_media_type', `the content type must be application/json (UTF-8), not ${value.slice(0, 100)}`, 'content-type');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new EdgeError('bad_request', 'body: is not valid UTF-8', 'body');
  }
}

/** The whole body, or 'too_large' once it passes `max` (the rest is read and dropped up to DRAIN_LIMIT_BYTES). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES) {
      // Not worth reading: answer now and close the connection.
      req.resume();
      resolve('too_large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number.isFinite(declared) && declared > max;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else if (size > DRAIN_LIMIT_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too_large');
      }
    });
    req.on('end', () => resolve(tooLarge ? 'too_large' : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}${error.cause instanceof Error ? ` (cause: ${error.cause.message})` : ''}`;
  return String(error);
}
