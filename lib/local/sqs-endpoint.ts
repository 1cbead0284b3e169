// A local Amazon SQS endpoint speaking the AWS JSON 1.0 protocol that @aws-sdk/client-sqs uses
// (POST /, X-Amz-Target: AmazonSQS.<Operation>, errors as {__type, message} plus the
// x-amzn-query-error header, so the SDK raises its typed exceptions such as QueueDoesNotExist).
//
// Hand-written because npm has no maintained pure-JavaScript SQS stand-in (the known ones need a
// JVM, Docker or Python), and DESIGN.md allows small local endpoints for exactly this. It covers
// what the platform uses: CreateQueue, GetQueueUrl, SendMessage(Batch), ReceiveMessage (visibility
// timeout, long polling), DeleteMessage(Batch), GetQueueAttributes, PurgeQueue. Standard queues only.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readJsonBody, replyJson, type BodyErrors, type Json } from './aws-json-protocol';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws-clients';
import { JsonlJournal, sendEntry, type JournalEntry } from './sqs-journal';
import { LocalQueue, md5Hex, md5OfMessageAttributes, type MessageAttributes, type QueueMessage } from './sqs-queue';

export interface SqsEndpointOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** JSONL journal making queues and messages survive a restart; in memory only when absent. */
  readonly journalFile?: string;
}

export interface SqsEndpoint {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An error in the SQS wire shape: `type` is the modelled shape name the SDK maps to a class. */
export class SqsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    /** awsQueryError code, sent in x-amzn-query-error for query-compatible clients. */
    readonly queryCode: string = type,
  ) {
    super(message);
    this.name = 'SqsError';
  }
}

const BODY_ERRORS: BodyErrors = { tooLarge: () => new SqsError('RequestEntityTooLarge', 'The request is too large.', 413), malformed: (m) => new SqsError('SerializationException', m) };
type Operation = (input: Json) => Promise<Json> | Json;

const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const MAX_MESSAGE_BYTES = 262_144;
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
// Characters SQS accepts in a message body (XML 1.0 character ranges).
const INVALID_BODY_CHARACTER = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const errors = {
  missing: (name: string) => new SqsError('MissingParameter', `The request must contain the parameter ${name}.`),
  invalid: (message: string) => new SqsError('InvalidParameterValue', message),
  noQueue: () =>
    new SqsError('QueueDoesNotExist', 'The specified queue does not exist.', 400, 'AWS.SimpleQueueService.NonExistentQueue'),
};

function requiredString(input: Json, name: string): string {
  const value = input[name];
  if (value === undefined || value === null || value === '') throw errors.missing(name);
  if (typeof value !== 'string') throw errors.invalid(`Value for parameter ${name} must be a string.`);
  return value;
}

function optionalInteger(input: Json, name: string, min: number, max: number): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw errors.invalid(`Value ${String(value)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`);
  }
  return value;
}

function stringList(input: Json, name: string): string[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw errors.invalid(`Value for parameter ${name} must be a list of strings.`);
  }
  return value;
}

function stringMap(input: Json, name: string): Record<string, string> {
  const value = input[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw errors.invalid(`Value for parameter ${name} must be a map.`);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw errors.invalid(`Attribute ${key} must be a string.`);
    out[key] = v;
  }
  return out;
}

function messageAttributes(input: Json): MessageAttributes {
  const value = input.MessageAttributes;
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw errors.invalid('MessageAttributes must be a map.');
  const out: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }> = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) throw errors.invalid(`Message attribute ${name} must be an object.`);
    const attribute = raw as Record<string, unknown>;
    const dataType = attribute.DataType;
    if (typeof dataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(dataType)) {
      throw errors.invalid(`The message attribute '${name}' has an invalid message attribute type.`);
    }
    const isBinary = dataType.startsWith('Binary');
    const field = isBinary ? attribute.BinaryValue : attribute.StringValue;
    if (typeof field !== 'string') {
      throw errors.invalid(`The message attribute '${name}' must contain a non-empty ${isBinary ? 'BinaryValue' : 'StringValue'}.`);
    }
    out[name] = isBinary ? { DataType: dataType, BinaryValue: field } : { DataType: dataType, StringValue: field };
  }
  return out;
}

function validateBody(body: string): void {
  if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) {
    throw errors.invalid(`One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`);
  }
  if (INVALID_BODY_CHARACTER.test(body)) {
    throw new SqsError('InvalidMessageContents', 'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF');
  }
}

/** Keeps the attributes a ReceiveMessage asked for: `All`, `.*`, exact names, or `prefix.*`. */
function selectAttributes<T>(all: Readonly<Record<string, T>>, requested: readonly string[]): Record<string, T> {
  const out: Record<string, T> = {};
  const everything = requested.includes('All') || requested.includes('.*');
  for (const [name, value] of Object.entries(all)) {
    const wanted =
      everything || requested.some((r) => (r.endsWith('.*') ? name.startsWith(r.slice(0, -1)) : r === name));
    if (wanted) out[name] = value;
  }
  return out;
}

export async function startSqsEndpoint(options: SqsEndpointOptions = {}): Promise<SqsEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const queues = new Map<string, LocalQueue>();
  const journal = options.journalFile ? new JsonlJournal(options.journalFile) : undefined;
  let baseUrl = '';
  let closed = false;

  const queueUrl = (name: string) => `${baseUrl}/${LOCAL_ACCOUNT_ID}/${name}`;
  const newQueue = (name: string, attributes: Record<string, string>, createdAt: number) =>
    new LocalQueue(name, queueUrl(name), `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`, attributes, createdAt);

  // Queues are addressed by URL; only the last path segment matters, so a URL minted before a
  // restart on another port still names the same queue.
  const byUrl = (input: Json): LocalQueue => {
    const url = requiredString(input, 'QueueUrl');
    let name: string | undefined;
    try {
      name = new URL(url).pathname.split('/').filter(Boolean).pop();
    } catch {
      throw new SqsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`, 404);
    }
    const queue = name === undefined ? undefined : queues.get(name);
    if (!queue) throw errors.noQueue();
    return queue;
  };

  const record = (entry: JournalEntry) => journal?.append(entry);

  const sendOne = (queue: LocalQueue, input: Json) => {
    const body = requiredString(input, 'MessageBody');
    validateBody(body);
    const attributes = messageAttributes(input);
    const delay = optionalInteger(input, 'DelaySeconds', 0, 900);
    const message = queue.send(body, attributes, delay, Date.now());
    record(sendEntry(queue.name, message));
    const md5OfAttributes = md5OfMessageAttributes(attributes);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: md5Hex(body),
      ...(md5OfAttributes ? { MD5OfMessageAttributes: md5OfAttributes } : {}),
    };
  };

  const deleteOne = (queue: LocalQueue, input: Json) => {
    const result = queue.delete(requiredString(input, 'ReceiptHandle'));
    if (result.outcome === 'invalid') {
      throw new SqsError('ReceiptHandleIsInvalid', 'The input receipt handle is invalid.', 404);
    }
    if (result.messageId) record({ op: 'delete', queue: queue.name, messageId: result.messageId });
  };

  /** Checks a batch request's entries the way SQS does before touching any of them. */
  const batchEntries = (input: Json): Json[] => {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.', 400, 'AWS.SimpleQueueService.EmptyBatchRequest');
    }
    if (entries.length > 10) {
      throw new SqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`, 400, 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest');
    }
    const ids = new Set<string>();
    for (const entry of entries as unknown[]) {
      const id = typeof entry === 'object' && entry !== null ? (entry as Json).Id : undefined;
      if (typeof id !== 'string' || !BATCH_ENTRY_ID.test(id)) {
        throw new SqsError('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.', 400, 'AWS.SimpleQueueService.InvalidBatchEntryId');
      }
      if (ids.has(id)) {
        throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`, 400, 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct');
      }
      ids.add(id);
    }
    return entries as Json[];
  };

  const failure = (id: unknown, error: unknown) => {
    const e = error instanceof SqsError ? error : new SqsError('InternalError', String(error), 500);
    return { Id: id, SenderFault: e.status < 500, Code: e.type, Message: e.message };
  };

  const renderMessage = (message: QueueMessage, attributeNames: readonly string[], messageAttributeNames: readonly string[]) => {
    const system = selectAttributes(
      {
        SenderId: LOCAL_ACCOUNT_ID,
        SentTimestamp: String(message.sentTimestamp),
        ApproximateReceiveCount: String(message.receiveCount),
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? message.sentTimestamp),
      },
      attributeNames,
    );
    const user = selectAttributes(message.attributes, messageAttributeNames);
    const md5OfAttributes = md5OfMessageAttributes(user);
    return {
      MessageId: message.messageId,
      ReceiptHandle: message.receiptHandle,
      MD5OfBody: md5Hex(message.body),
      Body: message.body,
      ...(Object.keys(system).length ? { Attributes: system } : {}),
      ...(md5OfAttributes ? { MessageAttributes: user, MD5OfMessageAttributes: md5OfAttributes } : {}),
    };
  };

  const operations: Record<string, Operation> = {
    CreateQueue(input) {
      const name = requiredString(input, 'QueueName');
      if (name.endsWith('.fifo')) throw errors.invalid('FIFO queues are not supported by the local SQS endpoint.');
      if (!QUEUE_NAME.test(name)) {
        throw errors.invalid('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
      }
      const attributes = stringMap(input, 'Attributes');
      const existing = queues.get(name);
      if (existing) {
        // SQS: creating an existing queue is fine unless an attribute value differs.
        const conflict = Object.entries(attributes).some(([k, v]) => existing.configuredAttributes[k] !== v);
        if (conflict) {
          throw new SqsError('QueueNameExists', 'A queue already exists with the same name and a different value for attribute(s).', 400, 'QueueAlreadyExists');
        }
        return { QueueUrl: existing.url };
      }
      const createdAt = Date.now();
      queues.set(name, newQueue(name, attributes, createdAt));
      record({ op: 'create', queue: name, attributes, createdAt });
      return { QueueUrl: queueUrl(name) };
    },

    GetQueueUrl(input) {
      const name = requiredString(input, 'QueueName');
      if (!queues.has(name)) throw errors.noQueue();
      return { QueueUrl: queueUrl(name) };
    },

    SendMessage(input) {
      return sendOne(byUrl(input), input);
    },

    SendMessageBatch(input) {
      const queue = byUrl(input);
      const entries = batchEntries(input);
      const total = entries.reduce((n, e) => n + (typeof e.MessageBody === 'string' ? Buffer.byteLength(e.MessageBody) : 0), 0);
      if (total > MAX_MESSAGE_BYTES) {
        throw new SqsError('BatchRequestTooLong', `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes.`, 400, 'AWS.SimpleQueueService.BatchRequestTooLong');
      }
      const Successful: Json[] = [];
      const Failed: Json[] = [];
      for (const entry of entries) {
        try {
          Successful.push({ Id: entry.Id, ...sendOne(queue, entry) });
        } catch (error) {
          Failed.push(failure(entry.Id, error));
        }
      }
      return { Successful, Failed };
    },

    async ReceiveMessage(input) {
      const queue = byUrl(input);
      const max = optionalInteger(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
      const visibility = optionalInteger(input, 'VisibilityTimeout', 0, 43_200);
      const defaultWait = Number(queue.configuredAttributes.ReceiveMessageWaitTimeSeconds ?? 0);
      const wait = optionalInteger(input, 'WaitTimeSeconds', 0, 20) ?? defaultWait;
      const attributeNames = [...stringList(input, 'AttributeNames'), ...stringList(input, 'MessageSystemAttributeNames')];
      const messageAttributeNames = stringList(input, 'MessageAttributeNames');
      // Long polling: look again every 50 ms until a message is there or the wait is over.
      const deadline = Date.now() + wait * 1000;
      let messages = queue.receive(max, visibility, Date.now());
      while (messages.length === 0 && !closed && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, deadline - Date.now())));
        messages = queue.receive(max, visibility, Date.now());
      }
      return { Messages: messages.map((m) => renderMessage(m, attributeNames, messageAttributeNames)) };
    },

    DeleteMessage(input) {
      deleteOne(byUrl(input), input);
      return {};
    },

    DeleteMessageBatch(input) {
      const queue = byUrl(input);
      const Successful: Json[] = [];
      const Failed: Json[] = [];
      for (const entry of batchEntries(input)) {
        try {
          deleteOne(queue, entry);
          Successful.push({ Id: entry.Id });
        } catch (error) {
          Failed.push(failure(entry.Id, error));
        }
      }
      return { Successful, Failed };
    },

    GetQueueAttributes(input) {
      const queue = byUrl(input);
      const requested = stringList(input, 'AttributeNames');
      return { Attributes: selectAttributes(queue.attributes(Date.now()), requested) };
    },

    PurgeQueue(input) {
      const queue = byUrl(input);
      queue.purge();
      record({ op: 'purge', queue: queue.name });
      return {};
    },
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const target = req.headers['x-amz-target'];
      const operationName = typeof target === 'string' && target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
      if (req.method !== 'POST' || !operationName) {
        throw new SqsError('UnknownOperationException', 'This endpoint speaks the AWS JSON 1.0 protocol: POST with X-Amz-Target AmazonSQS.<Operation>.');
      }
      const operation = Object.hasOwn(operations, operationName) ? operations[operationName] : undefined;
      if (!operation) throw new SqsError('UnsupportedOperation', `${operationName} is not supported by the local SQS endpoint.`, 400, 'AWS.SimpleQueueService.UnsupportedOperation');
      const input = await readJsonBody(req, MAX_REQUEST_BYTES, BODY_ERRORS);
      replyJson(res, '1.0', 200, await operation(input));
    } catch (error) {
      const e = error instanceof SqsError ? error : new SqsError('InternalError', error instanceof Error ? error.message : String(error), 500);
      const fault = e.status >= 500 ? 'Receiver' : 'Sender';
      replyJson(res, '1.0', e.status, { __type: `com.amazonaws.sqs#${e.type}`, message: e.message }, { 'x-amzn-query-error': `${e.queryCode};${fault}` });
    }
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  baseUrl = `http://${host}:${port}`;
  // Rebuild state from the journal now that the port (part of every queue URL) is known, then
  // compact the journal to what is still live. This runs before any request can be served.
  if (journal) {
    const now = Date.now();
    for (const entry of journal.read()) {
      if (entry.op === 'create') {
        if (!queues.has(entry.queue)) queues.set(entry.queue, newQueue(entry.queue, entry.attributes, entry.createdAt));
        continue;
      }
      const queue = queues.get(entry.queue);
      if (!queue) continue;
      if (entry.op === 'send') {
        const { messageId, body, attributes, sentTimestamp, visibleAt } = entry;
        queue.restore({ messageId, body, attributes, sentTimestamp, visibleAt, receiveCount: 0 });
      } else if (entry.op === 'delete') queue.deleteById(entry.messageId);
      else queue.purge();
    }
    journal.rewrite(
      [...queues.values()].flatMap((q): JournalEntry[] => [
        { op: 'create', queue: q.name, attributes: { ...q.configuredAttributes }, createdAt: q.createdAt },
        ...q.snapshot(now).map((m) => sendEntry(q.name, m)),
      ]),
    );
  }

  return {
    url: baseUrl,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        closed = true;
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}


