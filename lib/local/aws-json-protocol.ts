// The wire pieces every hand-written AWS JSON-protocol stand-in shares (SQS, KMS, Firehose): read
// a bounded JSON-object body, and answer with the protocol's content type and a request id. Each
// endpoint keeps its own error type; it hands in how to build one.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Json = Readonly<Record<string, unknown>>;

export interface BodyErrors {
  /** The body is over `maxBytes` (the endpoint's own error type, status 413). */
  tooLarge(): Error;
  /** The body is not a JSON object; `message` says which way. */
  malformed(message: string): Error;
}

/** The request body as a JSON object; an empty body is `{}`, as the SDKs send for no input. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, errors: BodyErrors): Promise<Json> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) throw errors.tooLarge();
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw errors.malformed('The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw errors.malformed('The request body must be a JSON object.');
  return parsed as Json;
}

/** A JSON answer: `version` is the protocol's (SQS speaks 1.0, KMS and Firehose 1.1). */
export function replyJson(res: ServerResponse, version: '1.0' | '1.1', status: number, body: Json, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': `application/x-amz-json-${version}`,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(text);
}
