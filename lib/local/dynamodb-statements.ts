// DynamoDB's BatchExecuteStatement for the local stand-in, which dynalite does not implement: the
// PartiQL write statements the online store sends (lib/adapters/online-store.ts), each run as the
// conditional PutItem or UpdateItem it amounts to, through dynalite's own request handler in this
// process. dynalite then validates the item and locks its key as for any write, so each statement
// is atomic on its own and fails on its own, as in a real batch.
//
// Only the statement forms the adapter generates are understood, every value a `?` parameter:
//   INSERT INTO "t" VALUE {'a': ?, 'b': ?, …}   → PutItem if the key does not exist (else DuplicateItem)
//   UPDATE "t" SET "a"=? … [REMOVE "b" …] WHERE "k"=? [AND "c"=? …]
//                                               → UpdateItem of an existing item whose non-key WHERE
//                                                 attributes equal their values (else ConditionalCheckFailed)
// Anything else is answered with a per-statement ValidationError that says so.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { readJsonBody, type BodyErrors, type Json } from './aws-json-protocol';
import { LOCAL_REGION } from './aws-clients';

const TARGET_PREFIX = 'DynamoDB_20120810.';
const BATCH_EXECUTE_STATEMENT = `${TARGET_PREFIX}BatchExecuteStatement`;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** DynamoDB's limit of statements per BatchExecuteStatement call. */
const MAX_STATEMENTS = 25;
/** dynalite's own request size limit. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const SUPPORTED =
  `the local DynamoDB stand-in runs only INSERT INTO "t" VALUE {'a': ?, …} and UPDATE "t" SET "a"=? … [REMOVE "b" …] WHERE "k"=? [AND "c"=? …], every value a ? parameter`;

/** The operations the shim sends dynalite, and those the handler benchmark's dynalite floor adds. */
export type DynamoOperation = 'PutItem' | 'UpdateItem' | 'DescribeTable' | 'CreateTable' | 'BatchWriteItem';

/** One DynamoDB JSON-protocol call: the answer's status and body. */
export type DynamoCall = (operation: DynamoOperation, input: Json) => Promise<{ status: number; body: string }>;

/** One element of BatchExecuteStatement's `Responses`. */
export type StatementResponse = { readonly TableName: string } | { readonly TableName?: string; readonly Error: { readonly Code: string; readonly Message: string } };

export type Statement =
  | { readonly kind: 'insert'; readonly table: string; readonly item: Readonly<Record<string, unknown>> }
  | {
      readonly kind: 'update';
      readonly table: string;
      readonly set: readonly (readonly [string, unknown])[];
      readonly remove: readonly string[];
      readonly where: readonly (readonly [string, unknown])[];
    };

/** A statement that fails on its own: `code` is a BatchStatementError code. */
export class StatementError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly table?: string,
  ) {
    super(message);
    this.name = 'StatementError';
  }
}

/** A whole BatchExecuteStatement call refused, in the DynamoDB wire shape (`type`: the exception name). */
export class DynamoWireError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'DynamoWireError';
  }
}

/** The statements of a BatchExecuteStatement input: 1 to 25, as DynamoDB requires. */
export function batchStatements(input: Json): readonly unknown[] {
  const statements = input['Statements'];
  if (!Array.isArray(statements) || statements.length < 1 || statements.length > MAX_STATEMENTS) {
    throw new DynamoWireError('ValidationException', `1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length between 1 and ${MAX_STATEMENTS}`);
  }
  return statements;
}

type Token = { readonly kind: 'name' | 'string' | 'word' | 'symbol'; readonly text: string };
const TOKEN = /\s*(?:"((?:[^"]|"")*)"|'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_]*)|([?{}:,=]))/y;

/** Tokens of the statement texts seen lately: a writer sends a handful of texts over and over. */
const tokenized = new Map<string, readonly Token[]>();

function tokenize(text: string): readonly Token[] {
  const known = tokenized.get(text);
  if (known) return known;
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    at = TOKEN.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'name', text: m[1].replaceAll('""', '"') });
    else if (m[2] !== undefined) tokens.push({ kind: 'string', text: m[2].replaceAll("''", "'") });
    else if (m[3] !== undefined) tokens.push({ kind: 'word', text: m[3] });
    else tokens.push({ kind: 'symbol', text: m[4]! });
  }
  if (text.slice(at).trim() !== '') throw unsupported(`unexpected text at ${JSON.stringify(text.slice(at, at + 20))}`);
  if (tokenized.size >= 256) tokenized.clear();
  tokenized.set(text, tokens);
  return tokens;
}

const unsupported = (detail: string) => new StatementError('ValidationError', `${SUPPORTED}: ${detail}`);

/** A BatchStatementRequest ({Statement, Parameters}) as one of the two supported forms. */
export function parseStatement(request: unknown): Statement {
  const { Statement: text, Parameters: parameters = [] } = (request ?? {}) as { Statement?: unknown; Parameters?: unknown };
  if (typeof text !== 'string') throw new StatementError('ValidationError', 'Statement must be a string');
  if (!Array.isArray(parameters)) throw new StatementError('ValidationError', 'Parameters must be a list');
  const tokens = tokenize(text);
  let at = 0;
  let bound = 0;
  const peek = (): Token | undefined => tokens[at];
  const next = (what: string): Token => {
    const token = tokens[at++];
    if (!token) throw unsupported(`expected ${what}, found the end`);
    return token;
  };
  const isWord = (word: string) => peek()?.kind === 'word' && peek()?.text.toUpperCase() === word;
  const expect = (kind: Token['kind'], text: string) => {
    const token = next(text);
    if (token.kind !== kind || (kind === 'word' ? token.text.toUpperCase() : token.text) !== text) throw unsupported(`expected ${text}, found ${token.text}`);
  };
  const name = (): string => {
    const token = next('a name');
    if (token.kind !== 'name' && token.kind !== 'word') throw unsupported(`expected a name, found ${token.text}`);
    return token.text;
  };
  const parameter = (): unknown => {
    expect('symbol', '?');
    if (bound >= parameters.length) throw new StatementError('ValidationError', "Number of parameters in request and statement don't match.");
    return parameters[bound++];
  };

  let statement: Statement;
  if (isWord('INSERT')) {
    at++;
    expect('word', 'INTO');
    const table = name();
    expect('word', 'VALUE');
    expect('symbol', '{');
    const item: Record<string, unknown> = {};
    do {
      const attribute = next('an attribute name');
      if (attribute.kind !== 'string') throw unsupported(`expected a quoted attribute name, found ${attribute.text}`);
      expect('symbol', ':');
      item[attribute.text] = parameter();
    } while (peek()?.kind === 'symbol' && peek()?.text === ',' && next(','));
    expect('symbol', '}');
    statement = { kind: 'insert', table, item };
  } else if (isWord('UPDATE')) {
    at++;
    const table = name();
    const set: [string, unknown][] = [];
    const remove: string[] = [];
    while (isWord('SET') || isWord('REMOVE')) {
      if (next('SET or REMOVE').text.toUpperCase() === 'REMOVE') remove.push(name());
      else {
        const attribute = name();
        expect('symbol', '=');
        set.push([attribute, parameter()]);
      }
    }
    if (set.length + remove.length === 0) throw unsupported('expected SET or REMOVE');
    expect('word', 'WHERE');
    const where: [string, unknown][] = [];
    do {
      const attribute = name();
      expect('symbol', '=');
      where.push([attribute, parameter()]);
    } while (isWord('AND') && next('AND'));
    statement = { kind: 'update', table, set, remove, where };
  } else {
    throw unsupported(`found ${peek()?.text ?? 'an empty statement'}`);
  }
  if (at < tokens.length) throw unsupported(`unexpected ${tokens[at]!.text} after the statement`);
  if (bound !== parameters.length) throw new StatementError('ValidationError', "Number of parameters in request and statement don't match.");
  return statement;
}

/** dynalite's exception names → BatchStatementError codes (a failed condition depends on the statement). */
const STATEMENT_CODES: Readonly<Record<string, string>> = {
  ValidationException: 'ValidationError',
  ResourceNotFoundException: 'ResourceNotFound',
  ProvisionedThroughputExceededException: 'ProvisionedThroughputExceeded',
  ThrottlingException: 'ThrottlingError',
  RequestLimitExceeded: 'RequestLimitExceeded',
  TransactionConflictException: 'TransactionConflict',
  ItemCollectionSizeLimitExceededException: 'ItemCollectionSizeLimitExceeded',
  AccessDeniedException: 'AccessDenied',
};

function wireError(body: string): { type: string; message: string } {
  try {
    const parsed = JSON.parse(body) as { __type?: unknown; message?: unknown; Message?: unknown };
    const type = String(parsed.__type ?? '');
    return { type: type.slice(type.indexOf('#') + 1), message: String(parsed.message ?? parsed.Message ?? '') };
  } catch {
    return { type: '', message: body };
  }
}

/**
 * Runs one parsed statement through `call`; `keys` are its table's key attributes, hash key first.
 * The operations use DynamoDB's legacy conditional parameters (Expected, AttributeUpdates), which
 * mean the same as the expressions but spare dynalite its expression parser, most of its time.
 */
export async function runStatement(statement: Statement, keys: readonly string[], call: DynamoCall): Promise<StatementResponse> {
  const TableName = statement.table;
  const hashKey = keys[0]!;
  let reply: Awaited<ReturnType<DynamoCall>>;
  let conflict: { Code: string; Message: string };
  if (statement.kind === 'insert') {
    // attribute_not_exists(<hash key>): no item with this key yet.
    reply = await call('PutItem', { TableName, Item: statement.item, Expected: { [hashKey]: { Exists: false } } });
    conflict = { Code: 'DuplicateItem', Message: 'Duplicate primary key exists in table' };
  } else {
    const Key = Object.fromEntries(statement.where.filter(([n]) => keys.includes(n)));
    if (keys.some((k) => !(k in Key))) {
      return { TableName, Error: { Code: 'ValidationError', Message: 'Where clause does not contain a mandatory equality on all key attributes' } };
    }
    // UPDATE never creates an item (attribute_exists(<hash key>)), and its other WHERE terms are
    // conditions on the one it finds (<attribute> = <value>).
    const Expected: Record<string, unknown> = { [hashKey]: { ComparisonOperator: 'NOT_NULL' } };
    for (const [n, v] of statement.where) if (!keys.includes(n)) Expected[n] = { ComparisonOperator: 'EQ', AttributeValueList: [v] };
    const AttributeUpdates: Record<string, unknown> = {};
    for (const [n, v] of statement.set) AttributeUpdates[n] = { Action: 'PUT', Value: v };
    for (const n of statement.remove) AttributeUpdates[n] = { Action: 'DELETE' };
    reply = await call('UpdateItem', { TableName, Key, AttributeUpdates, Expected });
    conflict = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
  }
  if (reply.status === 200) return { TableName };
  const { type, message } = wireError(reply.body);
  if (type === 'ConditionalCheckFailedException') return { TableName, Error: conflict };
  return { TableName, Error: { Code: STATEMENT_CODES[type] ?? 'InternalServerError', Message: `${type || `HTTP ${reply.status}`}: ${message}` } };
}

/** The key attributes of a table, hash key first, from DescribeTable. */
export async function describeKeys(call: DynamoCall, table: string): Promise<readonly string[]> {
  const reply = await call('DescribeTable', { TableName: table });
  if (reply.status !== 200) {
    const { type, message } = wireError(reply.body);
    throw new StatementError(STATEMENT_CODES[type] ?? 'InternalServerError', message, table);
  }
  const schema = (JSON.parse(reply.body) as { Table?: { KeySchema?: { AttributeName: string; KeyType: string }[] } }).Table?.KeySchema ?? [];
  return [...schema].sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0)).map((k) => k.AttributeName);
}

/** Parses and runs one statement; whatever fails is that statement's error, never the call's. */
export async function executeStatement(request: unknown, keysOf: (table: string) => Promise<readonly string[]>, call: DynamoCall): Promise<StatementResponse> {
  let table: string | undefined;
  try {
    const statement = parseStatement(request);
    table = statement.table;
    return await runStatement(statement, await keysOf(table), call);
  } catch (error) {
    const e = error instanceof StatementError ? error : new StatementError('InternalServerError', error instanceof Error ? error.message : String(error));
    const TableName = e.table ?? table;
    return { ...(TableName ? { TableName } : {}), Error: { Code: e.code, Message: e.message } };
  }
}

export interface DynamoAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A DynamoDB JSON answer, with the x-amz-crc32 of its body as DynamoDB (and dynalite) send it. */
export function dynamoAnswer(status: number, body: Json): DynamoAnswer {
  const text = JSON.stringify(body);
  return {
    status,
    headers: {
      'content-type': JSON_CONTENT_TYPE,
      'content-length': String(Buffer.byteLength(text)),
      'x-amzn-requestid': randomUUID(),
      'x-amz-crc32': String(crc32(text)),
    },
    body: text,
  };
}

/** What dynalite's request handler reads of a request and writes to a response (node_modules/dynalite/index.js). */
interface DynaliteRequest extends EventEmitter {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}
interface DynaliteResponse {
  statusCode: number;
  contentType?: string;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  end(body?: string): unknown;
}
type DynaliteHandler = (req: DynaliteRequest, res: DynaliteResponse) => void;

const ZERO_SIGNATURE = '0'.repeat(64);

/** dynalite's request: headers as the SDK would sign them (dynalite checks their form, not the signature). */
class InProcessRequest extends EventEmitter implements DynaliteRequest {
  readonly method = 'POST';
  readonly url = '/';
  readonly headers: IncomingHttpHeaders;

  constructor(target: string, date: string) {
    super();
    this.headers = {
      'content-type': JSON_CONTENT_TYPE,
      'x-amz-target': target,
      'x-amz-date': date,
      authorization: `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/${LOCAL_REGION}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=${ZERO_SIGNATURE}`,
    };
  }
}

/** Calls dynalite's request handler in this process, one call per statement. */
function inProcess(dynalite: DynaliteHandler): DynamoCall {
  // The x-amz-date header, made once a second rather than once a call (a statement batch is 25 calls).
  let second = -1;
  let date = '';
  return (operation, input) =>
    new Promise((resolve, reject) => {
      const now = Date.now();
      if (Math.floor(now / 1000) !== second) {
        second = Math.floor(now / 1000);
        date = new Date(now).toISOString().replace(/[-:]|\.\d{3}/g, '');
      }
      const req = new InProcessRequest(`${TARGET_PREFIX}${operation}`, date);
      const res: DynaliteResponse = {
        statusCode: 200,
        setHeader: () => res,
        end: (body) => resolve({ status: res.statusCode, body: body ?? '' }),
      };
      try {
        dynalite(req, res);
        // A string, not a Buffer: dynalite only concatenates the chunks and calls toString() on them.
        req.emit('data', JSON.stringify(input));
        req.emit('end');
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
}

/**
 * Calls to a dynalite server's own request handler in this process, as the shim makes them (no
 * socket, no SDK). For a server the shim serves, the calls go through it, to dynalite unchanged.
 */
export function dynaliteCall(server: Server): DynamoCall {
  const listeners = server.listeners('request');
  if (listeners.length !== 1) throw new Error(`expected dynalite's one request listener, found ${listeners.length}`);
  return inProcess(listeners[0] as DynaliteHandler);
}

const BODY_ERRORS: BodyErrors = {
  tooLarge: () => new DynamoWireError('ValidationException', 'The request is too large.', 413),
  malformed: (message) => new DynamoWireError('SerializationException', message),
};

/** The operations after which a table's key schema may differ from the one read before. */
const SCHEMA_CHANGES = new Set([`${TARGET_PREFIX}CreateTable`, `${TARGET_PREFIX}DeleteTable`]);

/**
 * Adds BatchExecuteStatement to a dynalite server (before it listens): its requests are answered
 * here, statement by statement through dynalite's own handler; every other request goes to that
 * handler unchanged. The listening server stays dynalite's own rather than a second server in
 * front of an unstarted one: dynalite's close() closes its store only once its own server has
 * closed, which for a server that never listened fails (ERR_SERVER_NOT_RUNNING) and leaves the
 * store open.
 */
export function serveBatchExecuteStatement(server: Server): void {
  const listeners = server.listeners('request');
  if (listeners.length !== 1) throw new Error(`expected dynalite's one request listener, found ${listeners.length}`);
  const dynalite = listeners[0] as DynaliteHandler;
  const call = inProcess(dynalite);
  const keys = new KeySchemas(call);
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = req.headers['x-amz-target'];
    if (target !== BATCH_EXECUTE_STATEMENT) {
      // Every table is created and deleted through this server: the schemas read are right until then.
      if (typeof target === 'string' && SCHEMA_CHANGES.has(target)) keys.forgetAll();
      return dynalite(req, res);
    }
    void answerBatch(req, keys, call)
      .then((answer) => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      })
      .catch(() => res.destroy());
  });
}

/**
 * Each table's key attributes, read by DescribeTable once and kept until a CreateTable or
 * DeleteTable passes through the server (a table deleted and created again may have other keys).
 * A failed read is not kept: the next statement asks again.
 */
class KeySchemas {
  private readonly known = new Map<string, Promise<readonly string[]>>();

  constructor(private readonly call: DynamoCall) {}

  readonly of = (table: string): Promise<readonly string[]> => {
    const known = this.known.get(table);
    if (known) return known;
    const read = describeKeys(this.call, table);
    this.known.set(table, read);
    read.catch(() => {
      if (this.known.get(table) === read) this.known.delete(table);
    });
    return read;
  };

  forgetAll(): void {
    this.known.clear();
  }
}

async function answerBatch(req: IncomingMessage, keys: KeySchemas, call: DynamoCall): Promise<DynamoAnswer> {
  try {
    const statements = batchStatements(await readJsonBody(req, MAX_REQUEST_BYTES, BODY_ERRORS));
    return dynamoAnswer(200, { Responses: await Promise.all(statements.map((s) => executeStatement(s, keys.of, call))) });
  } catch (error) {
    const e = error instanceof DynamoWireError ? error : new DynamoWireError('InternalServerError', error instanceof Error ? error.message : String(error), 500);
    return dynamoAnswer(e.status, { __type: `com.amazonaws.dynamodb.v20120810#${e.type}`, message: e.message });
  }
}
