// One standard SQS queue held in memory: at-least-once delivery with visibility timeouts, receipt
// handles, delays and retention, as the SQS developer guide describes them. The HTTP protocol lives
// in sqs-endpoint.ts; this file only knows queue semantics, so it is testable without sockets.
import { createHash, randomUUID } from 'node:crypto';

export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  /** Base64, as on the AWS JSON wire. */
  readonly BinaryValue?: string;
}
export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: MessageAttributes;
  readonly sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** Epoch ms from which the message may be received again (delay or visibility timeout). */
  visibleAt: number;
  /** The latest receipt handle; only it deletes the message (older ones succeed and do nothing). */
  receiptHandle?: string;
}

export const DEFAULT_QUEUE_ATTRIBUTES: Readonly<Record<string, string>> = {
  VisibilityTimeout: '30',
  DelaySeconds: '0',
  MessageRetentionPeriod: '345600',
  MaximumMessageSize: '262144',
  ReceiveMessageWaitTimeSeconds: '0',
};

export type DeleteOutcome = 'deleted' | 'stale' | 'invalid';

export class LocalQueue {
  private readonly messages = new Map<string, QueueMessage>();
  /** Every receipt handle still meaningful, to tell a stale handle (ok) from a forged one (error). */
  private readonly handles = new Map<string, string>();
  private readonly settable: Record<string, string>;
  lastModified: number;

  constructor(
    readonly name: string,
    readonly url: string,
    readonly arn: string,
    attributes: Readonly<Record<string, string>>,
    readonly createdAt: number,
  ) {
    this.settable = { ...DEFAULT_QUEUE_ATTRIBUTES, ...attributes };
    this.lastModified = createdAt;
  }

  /** The attributes fixed at creation (CreateQueue with different values is a conflict). */
  get configuredAttributes(): Readonly<Record<string, string>> {
    return this.settable;
  }

  private seconds(attribute: string): number {
    return Number(this.settable[attribute] ?? DEFAULT_QUEUE_ATTRIBUTES[attribute] ?? 0);
  }

  send(body: string, attributes: MessageAttributes, delaySeconds: number | undefined, now: number): QueueMessage {
    const message: QueueMessage = {
      messageId: randomUUID(),
      body,
      attributes,
      sentTimestamp: now,
      receiveCount: 0,
      visibleAt: now + 1000 * (delaySeconds ?? this.seconds('DelaySeconds')),
    };
    this.messages.set(message.messageId, message);
    return message;
  }

  /** Restores a message from the journal, keeping its id and send time. */
  restore(message: QueueMessage): void {
    this.messages.set(message.messageId, { ...message, receiptHandle: undefined });
  }

  receive(max: number, visibilityTimeoutSeconds: number | undefined, now: number): QueueMessage[] {
    this.expire(now);
    const timeout = 1000 * (visibilityTimeoutSeconds ?? this.seconds('VisibilityTimeout'));
    const received: QueueMessage[] = [];
    for (const message of this.messages.values()) {
      if (received.length >= max) break;
      if (message.visibleAt > now) continue;
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= now;
      message.visibleAt = now + timeout;
      message.receiptHandle = Buffer.from(`${message.messageId}:${randomUUID()}`).toString('base64');
      this.handles.set(message.receiptHandle, message.messageId);
      received.push(message);
    }
    return received;
  }

  delete(receiptHandle: string): { outcome: DeleteOutcome; messageId?: string } {
    const messageId = this.handles.get(receiptHandle);
    if (messageId === undefined) return { outcome: 'invalid' };
    const message = this.messages.get(messageId);
    if (!message || message.receiptHandle !== receiptHandle) return { outcome: 'stale' };
    this.forget(message);
    return { outcome: 'deleted', messageId };
  }

  /** Deletes by id; used when replaying the journal. */
  deleteById(messageId: string): void {
    const message = this.messages.get(messageId);
    if (message) this.forget(message);
  }

  purge(): void {
    this.messages.clear();
    this.handles.clear();
  }

  /** Live messages in send order, for the journal's compaction. */
  snapshot(now: number): QueueMessage[] {
    this.expire(now);
    return [...this.messages.values()];
  }

  attributes(now: number): Record<string, string> {
    this.expire(now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of this.messages.values()) {
      if (message.visibleAt <= now) visible += 1;
      else if (message.receiveCount > 0) inFlight += 1;
      else delayed += 1;
    }
    return {
      ...this.settable,
      QueueArn: this.arn,
      CreatedTimestamp: String(Math.floor(this.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(this.lastModified / 1000)),
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: String(delayed),
    };
  }

  private forget(message: QueueMessage): void {
    this.messages.delete(message.messageId);
    for (const [handle, id] of this.handles) if (id === message.messageId) this.handles.delete(handle);
  }

  /** Drops messages past the retention period, as SQS does. */
  private expire(now: number): void {
    const cutoff = now - 1000 * this.seconds('MessageRetentionPeriod');
    for (const message of this.messages.values()) {
      if (message.sentTimestamp < cutoff) this.forget(message);
    }
  }
}

export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * MD5OfMessageAttributes as SQS computes it: for each attribute in name order, the length-prefixed
 * name, length-prefixed data type, a transport byte (1 string, 2 binary) and the length-prefixed value.
 */
export function md5OfMessageAttributes(attributes: MessageAttributes): string | undefined {
  const names = Object.keys(attributes).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of names) {
    const value = attributes[name];
    if (!value) continue;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(Buffer.from(value.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      lengthPrefixed(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return md5Hex(Buffer.concat(parts));
}
