// An HTTP proxy in front of dynalite that injects the transient failures DynamoDB really produces
// into the data-plane calls of the DynamoDB JSON protocol (X-Amz-Target DynamoDB_20120810.<Op>):
//   - throttling: HTTP 400 ProvisionedThroughputExceededException, which the SDK retries itself;
//   - version conflicts: before a conditional PutItem of an existing item is forwarded, the proxy
//     bumps that item's version with an UpdateItem of its own (another writer got there first), so
//     the put then fails its condition for real and the caller's re-read-and-reapply path runs.
// A share of the conflicts can persist: the same item then loses its version on the next puts too,
// as many times as the caller is willing to retry, so the records behind it fail and the event
// source mapping delivers them again (the redelivery path).
// BatchExecuteStatement (the online store's writes) fails the way DynamoDB fails it, per statement:
// each INSERT or UPDATE is one data-plane call that may be throttled (its own error in the answer,
// the others unaffected) or lose its version, and the proxy runs the statements itself, one by one,
// as the PutItem or UpdateItem the local stand-in runs them as (lib/local/dynamodb-statements.ts),
// so it works in front of plain dynalite too.
// Which calls fail is a seeded hash of the request (operation, key, condition values, SDK attempt
// number, or for a statement how many times the same statement came before), not of timing: the
// same request stream gets the same faults. Other requests are forwarded byte for byte (dynalite
// checks that a signature is present, not that it is right).
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  batchStatements,
  dynamoAnswer,
  DynamoWireError,
  executeStatement,
  parseStatement,
  type DynamoAnswer,
  type DynamoCall,
  type Statement,
  type StatementResponse,
} from '../../lib/local/dynamodb-statements';

const TARGET_PREFIX = 'DynamoDB_20120810.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const DEFAULT_OPERATIONS = ['BatchGetItem', 'GetItem', 'PutItem', 'BatchExecuteStatement'] as const;
/** Headers that belong to one hop, not to the message. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'proxy-connection', 'upgrade']);

export interface FaultyDynamoProxyOptions {
  /** dynalite's URL; may be given later with setUpstream (before the first request). */
  readonly upstream?: string;
  readonly seed: number;
  /** Share of data-plane calls that fail, 0 to 1. Default 0.05. */
  readonly faultRate?: number;
  /** Share of the failing conditional puts of existing items that become version conflicts (the rest are throttled). Default 0.5. */
  readonly conflictShare?: number;
  /**
   * Share of the injected conflicts that persist: the proxy also steals the version of the same
   * item's next `persistFor` conditional puts. Default 0.
   */
  readonly persistentConflictShare?: number;
  /** Further puts a persistent conflict defeats; the pipeline's default of 5 attempts means 4. Default 4. */
  readonly persistFor?: number;
  /** Operations faults are injected into. Default BatchGetItem, GetItem, PutItem, BatchExecuteStatement. */
  readonly operations?: readonly string[];
  /** The table's partition key attribute, used to address the item a conflict bumps. Default 'pk'. */
  readonly keyAttribute?: string;
  /** The attribute every conditional write checks. Default 'version'. */
  readonly versionAttribute?: string;
}

export interface FaultStats {
  /** Every request forwarded or answered, by operation. */
  readonly requests: Record<string, number>;
  /** Requests of the fault-eligible operations, retries included; each statement of a BatchExecuteStatement counts as one. */
  readonly dataPlaneCalls: number;
  /** Conditional puts (or UPDATE statements) of existing items seen (those a conflict can be injected into). */
  readonly conditionalPuts: number;
  readonly throttles: number;
  readonly throttlesByOperation: Record<string, number>;
  /** Puts that failed their condition because the proxy moved the version first. */
  readonly conflicts: number;
  /** Conflicts that went on to defeat the item's next `persistFor` puts (each counted in conflicts too). */
  readonly persistentConflicts: number;
  /** Conflicts chosen whose UpdateItem found no item: the put was forwarded untouched. */
  readonly conflictMisses: number;
  /**
   * Requests (or statements) that could not be forwarded, answered 502 (the SDK retries those) or
   * as the statement's InternalServerError (the online store retries those): not injected, but
   * possible. A kept-alive connection dynalite closed just as the proxy reused it is not one of
   * them: that request is sent again.
   */
  readonly upstreamErrors: number;
  /** The first few of those errors. */
  readonly upstreamErrorMessages: string[];
}

export interface FaultyDynamoProxy {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  setUpstream(url: string): void;
  /** Injects no more faults (requests are still forwarded). */
  disable(): void;
  stats(): FaultStats;
  close(): Promise<void>;
}

interface Upstream {
  readonly host: string;
  readonly port: number;
}

interface Reply {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

export async function startFaultyDynamoProxy(options: FaultyDynamoProxyOptions): Promise<FaultyDynamoProxy> {
  const faultRate = options.faultRate ?? 0.05;
  const conflictShare = options.conflictShare ?? 0.5;
  const operations = new Set(options.operations ?? DEFAULT_OPERATIONS);
  const keyAttribute = options.keyAttribute ?? 'pk';
  const versionAttribute = options.versionAttribute ?? 'version';
  const persistentShare = options.persistentConflictShare ?? 0;
  const persistFor = options.persistFor ?? 4;
  /** Items whose next conditional puts lose their version, with how many remain. */
  const persisting = new Map<string, number>();
  let upstream: Upstream | undefined = options.upstream ? parseUpstream(options.upstream) : undefined;
  let enabled = true;
  const agent = new Agent({ keepAlive: true });
  const stats = {
    requests: {} as Record<string, number>,
    dataPlaneCalls: 0,
    conditionalPuts: 0,
    throttles: 0,
    throttlesByOperation: {} as Record<string, number>,
    conflicts: 0,
    persistentConflicts: 0,
    conflictMisses: 0,
    upstreamErrors: 0,
    upstreamErrorMessages: [] as string[],
  };
  let requestIds = 0;
  /** How many times each statement was seen: a retried statement is a new draw, as a retried request is. */
  const statementsSeen = new Map<string, number>();

  const forward = (method: string, path: string, headers: IncomingHttpHeaders | OutgoingHttpHeaders, body: Buffer): Promise<Reply> => {
    const to = upstream;
    if (!to) return Promise.reject(new Error('faulty-dynamo-proxy: no upstream set'));
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_HEADERS.has(name.toLowerCase())) out[name] = value;
    out['content-length'] = body.byteLength;
    out['host'] = `${to.host}:${to.port}`;
    const send = (retried: boolean): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const req = request({ host: to.host, port: to.port, method, path, headers: out, agent }, (res) => {
          readBody(res).then((data) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: data }), reject);
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          // A kept-alive socket that dynalite closed just as it was reused: the request never
          // reached it, so it is sent again once (the case Node's http documentation retries).
          if (!retried && req.reusedSocket && error.code === 'ECONNRESET') resolve(send(true));
          else reject(error);
        });
        req.end(body);
      });
    return send(false);
  };

  /** The bump "another writer" makes: version + 1 on the item, only if it exists. */
  const bumpVersion = async (incoming: IncomingHttpHeaders, table: string, key: unknown): Promise<boolean> => {
    const body = Buffer.from(
      JSON.stringify({
        TableName: table,
        Key: { [keyAttribute]: key },
        UpdateExpression: 'SET #v = #v + :one',
        ConditionExpression: 'attribute_exists(#k)',
        ExpressionAttributeNames: { '#v': versionAttribute, '#k': keyAttribute },
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
    // The intercepted request's credentials and date: dynalite wants them present, not valid.
    const headers: OutgoingHttpHeaders = {
      'content-type': JSON_CONTENT_TYPE,
      'x-amz-target': `${TARGET_PREFIX}UpdateItem`,
      ...(incoming.authorization ? { authorization: incoming.authorization } : {}),
      ...(incoming['x-amz-date'] ? { 'x-amz-date': incoming['x-amz-date'] } : {}),
    };
    const reply = await forward('POST', '/', headers, body);
    if (reply.status === 200) return true;
    if (reply.body.toString('utf8').includes('ConditionalCheckFailedException')) return false;
    throw new Error(`faulty-dynamo-proxy: UpdateItem answered ${reply.status}: ${reply.body.toString('utf8')}`);
  };

  /** PutItem, UpdateItem or DescribeTable upstream, with the intercepted request's credentials and date. */
  const upstreamCall = (incoming: IncomingHttpHeaders): DynamoCall => async (operation, input) => {
    const headers: OutgoingHttpHeaders = {
      'content-type': JSON_CONTENT_TYPE,
      'x-amz-target': `${TARGET_PREFIX}${operation}`,
      ...(incoming.authorization ? { authorization: incoming.authorization } : {}),
      ...(incoming['x-amz-date'] ? { 'x-amz-date': incoming['x-amz-date'] } : {}),
    };
    try {
      const reply = await forward('POST', '/', headers, Buffer.from(JSON.stringify(input)));
      return { status: reply.status, body: reply.body.toString('utf8') };
    } catch (error) {
      // The statement's own error (InternalServerError, which the caller retries), counted as any upstream error.
      stats.upstreamErrors += 1;
      if (stats.upstreamErrorMessages.length < 5) stats.upstreamErrorMessages.push(String(error));
      throw error;
    }
  };

  /** One statement of a BatchExecuteStatement: the same faults as a PutItem, drawn per statement. */
  const handleStatement = async (req: IncomingMessage, request: unknown, call: DynamoCall): Promise<StatementResponse> => {
    const keysOf = async () => [keyAttribute];
    let statement: Statement;
    try {
      statement = parseStatement(request);
    } catch {
      return executeStatement(request, keysOf, call); // answers the statement's own error
    }
    stats.dataPlaneCalls += 1;
    const conditional = statement.kind === 'update';
    if (conditional) stats.conditionalPuts += 1;
    if (!enabled) return executeStatement(request, keysOf, call);
    const key = statement.kind === 'insert' ? statement.item[keyAttribute] : statement.where.find(([n]) => n === keyAttribute)?.[1];
    const identity = JSON.stringify([statement.table, statement.kind, key, statement.kind === 'update' ? statement.where : null]);
    const seen = (statementsSeen.get(identity) ?? 0) + 1;
    statementsSeen.set(identity, seen);
    const fingerprint = `Statement|${identity}|${seen}`;
    const itemKey = JSON.stringify([statement.table, key]);
    const stealVersion = async () => {
      if (await bumpVersion(req.headers, statement.table, key)) stats.conflicts += 1;
      else stats.conflictMisses += 1;
      return executeStatement(request, keysOf, call);
    };
    const persistLeft = conditional ? persisting.get(itemKey) : undefined;
    if (persistLeft !== undefined) {
      if (persistLeft <= 1) persisting.delete(itemKey);
      else persisting.set(itemKey, persistLeft - 1);
      return stealVersion();
    }
    if (unitHash(options.seed, fingerprint) >= faultRate) return executeStatement(request, keysOf, call);
    if (conditional && unitHash(options.seed ^ 0x5bd1e995, fingerprint) < conflictShare) {
      if (persistFor > 0 && unitHash(options.seed ^ 0x27d4eb2f, fingerprint) < persistentShare) {
        stats.persistentConflicts += 1;
        persisting.set(itemKey, persistFor);
      }
      return stealVersion();
    }
    stats.throttles += 1;
    stats.throttlesByOperation['BatchExecuteStatement'] = (stats.throttlesByOperation['BatchExecuteStatement'] ?? 0) + 1;
    return {
      TableName: statement.table,
      Error: { Code: 'ProvisionedThroughputExceeded', Message: 'The level of configured provisioned throughput for the table was exceeded.' },
    };
  };

  const handleBatch = async (req: IncomingMessage, body: Buffer): Promise<Reply> => {
    let answer: DynamoAnswer;
    try {
      const statements = batchStatements(parseJson(body));
      const call = upstreamCall(req.headers);
      answer = dynamoAnswer(200, { Responses: await Promise.all(statements.map((s) => handleStatement(req, s, call))) });
    } catch (error) {
      if (!(error instanceof DynamoWireError)) throw error;
      answer = dynamoAnswer(error.status, { __type: `com.amazonaws.dynamodb.v20120810#${error.type}`, message: error.message });
    }
    return { status: answer.status, headers: answer.headers, body: Buffer.from(answer.body) };
  };

  const handle = async (req: IncomingMessage, body: Buffer): Promise<Reply> => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : `(${target || 'no target'})`;
    stats.requests[op] = (stats.requests[op] ?? 0) + 1;
    const forwardAsIs = () => forward(req.method ?? 'POST', req.url ?? '/', req.headers, body);
    if (op === 'BatchExecuteStatement' && operations.has(op)) return handleBatch(req, body);
    if (!operations.has(op)) return forwardAsIs();

    stats.dataPlaneCalls += 1;
    const input = parseJson(body);
    const attempt = /attempt=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''))?.[1] ?? '1';
    const fingerprint = `${op}|${requestIdentity(op, input, keyAttribute)}|${attempt}`;
    const conditional = op === 'PutItem' && isConditionalUpdate(input, keyAttribute);
    if (conditional) stats.conditionalPuts += 1;
    if (!enabled) return forwardAsIs();
    const item = (input['Item'] ?? {}) as Record<string, unknown>;
    const itemKey = JSON.stringify([input['TableName'], item[keyAttribute]]);
    const stealVersion = async () => {
      if (await bumpVersion(req.headers, String(input['TableName']), item[keyAttribute])) stats.conflicts += 1;
      else stats.conflictMisses += 1;
      return forwardAsIs();
    };
    const persistLeft = conditional ? persisting.get(itemKey) : undefined;
    if (persistLeft !== undefined) {
      if (persistLeft <= 1) persisting.delete(itemKey);
      else persisting.set(itemKey, persistLeft - 1);
      return stealVersion();
    }
    if (unitHash(options.seed, fingerprint) >= faultRate) return forwardAsIs();

    if (conditional && unitHash(options.seed ^ 0x5bd1e995, fingerprint) < conflictShare) {
      if (persistFor > 0 && unitHash(options.seed ^ 0x27d4eb2f, fingerprint) < persistentShare) {
        stats.persistentConflicts += 1;
        persisting.set(itemKey, persistFor);
      }
      return stealVersion();
    }
    stats.throttles += 1;
    stats.throttlesByOperation[op] = (stats.throttlesByOperation[op] ?? 0) + 1;
    const answer = Buffer.from(
      JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
        message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
      }),
    );
    return {
      status: 400,
      headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-requestid': `faulty-${++requestIds}` },
      body: answer,
    };
  };

  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => handle(req, body))
      .catch((error: unknown) => {
        stats.upstreamErrors += 1;
        if (stats.upstreamErrorMessages.length < 5) stats.upstreamErrorMessages.push(String(error));
        const body = Buffer.from(JSON.stringify({ __type: 'com.amazon.coral.service#InternalFailure', message: String(error) }));
        return { status: 502, headers: { 'content-type': JSON_CONTENT_TYPE }, body } satisfies Reply;
      })
      .then((reply) => {
        const headers: OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(reply.headers)) if (value !== undefined && !HOP_HEADERS.has(name.toLowerCase())) headers[name] = value;
        headers['content-length'] = reply.body.byteLength;
        res.writeHead(reply.status, headers);
        res.end(reply.body);
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    setUpstream(url) {
      upstream = parseUpstream(url);
    },
    disable() {
      enabled = false;
    },
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

function parseUpstream(url: string): Upstream {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`faulty-dynamo-proxy: upstream must be http, got ${url}`);
  return { host: u.hostname, port: Number(u.port || 80) };
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function parseJson(body: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** What a request is about, free of timestamps: the keys it reads, or the key and condition it writes. */
function requestIdentity(op: string, input: Record<string, unknown>, keyAttribute: string): string {
  if (op === 'PutItem') {
    const item = (input['Item'] ?? {}) as Record<string, unknown>;
    return JSON.stringify([input['TableName'], item[keyAttribute], input['ConditionExpression'], input['ExpressionAttributeValues']]);
  }
  if (op === 'GetItem') return JSON.stringify([input['TableName'], input['Key']]);
  if (op === 'BatchGetItem') {
    const tables = (input['RequestItems'] ?? {}) as Record<string, { Keys?: unknown[] }>;
    return JSON.stringify(Object.entries(tables).map(([table, r]) => [table, (r.Keys ?? []).map((k) => JSON.stringify(k)).sort()]));
  }
  return JSON.stringify(input);
}

/** A put that replaces an existing item on a condition (not a create guarded by attribute_not_exists). */
function isConditionalUpdate(input: Record<string, unknown>, keyAttribute: string): boolean {
  const condition = input['ConditionExpression'];
  const item = input['Item'] as Record<string, unknown> | undefined;
  return typeof condition === 'string' && !/attribute_not_exists/.test(condition) && item?.[keyAttribute] !== undefined;
}

/** A seeded hash of the text onto [0, 1): FNV-1a, then a murmur3 finaliser. */
function unitHash(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
