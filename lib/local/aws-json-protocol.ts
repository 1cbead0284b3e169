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
  const text = await readText(req, maxBytes, errors);
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

/**
 * The body as text, by 'data' events rather than `for await`: the stream's async iterator costs a
 * promise per chunk, a measurable share of the DynamoDB stand-in's statement batches. Over
 * `maxBytes`, the rest of the body is read and dropped so the connection can answer.
 */
function readText(req: IncomingMessage, maxBytes: number, errors: BodyErrors): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.resume();
        reject(errors.tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', reject);
  });
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
