// The local SQS endpoint against the real @aws-sdk/client-sqs: the SDK's own serializers, MD5
// checks and typed errors are what prove the wire protocol right.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  TooManyEntriesInBatchRequest,
  BatchEntryIdsNotDistinct,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-clients';
import { startSqsEndpoint, type SqsEndpoint } from '../../lib/local/sqs-endpoint';

const clientFor = (endpoint: SqsEndpoint) =>
  new SQSClient({ endpoint: endpoint.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

async function depth(sqs: SQSClient, QueueUrl: string) {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

describe('local SQS endpoint (AWS JSON 1.0)', () => {
  let endpoint: SqsEndpoint;
  let sqs: SQSClient;
  let n = 0;
  const newQueue = async (attributes?: Record<string, string>) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: `q-${++n}`, Attributes: attributes }))).QueueUrl!;

  beforeAll(async () => {
    endpoint = await startSqsEndpoint({ port: 0 });
    sqs = clientFor(endpoint);
  });
  afterAll(async () => {
    sqs.destroy();
    await endpoint.close();
  });

  it('creates queues idempotently and resolves their URL', async () => {
    const first = await sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '5' } }));
    const again = await sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '5' } }));
    expect(first.QueueUrl).toBe(`${endpoint.url}/000000000000/orders`);
    expect(again.QueueUrl).toBe(first.QueueUrl);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }));
    expect(QueueUrl).toBe(first.QueueUrl);
    await expect(
      sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '6' } })),
    ).rejects.toBeInstanceOf(QueueNameExists);
  });

  it('raises the typed QueueDoesNotExist', async () => {
    const error = await sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect((error as QueueDoesNotExist).message).toMatch(/does not exist/);
    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: `${endpoint.url}/000000000000/nope`, MessageBody: 'x' })),
    ).rejects.toBeInstanceOf(QueueDoesNotExist);
  });

  it('sends and receives with body and attribute checksums the SDK verifies', async () => {
    const QueueUrl = await newQueue();
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: '{"reason":"amount: must be a number","é":"ü"}',
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: 'validation_error' },
          attempt: { DataType: 'Number', StringValue: '3' },
          raw: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 254, 255]) },
        },
      }),
    );
    expect(sent.MessageId).toBeTruthy();
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);

    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }),
    );
    expect(Messages).toHaveLength(1);
    const [message] = Messages!;
    expect(message!.Body).toBe('{"reason":"amount: must be a number","é":"ü"}');
    expect(message!.MessageId).toBe(sent.MessageId);
    expect(message!.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(message!.MessageAttributes?.reason?.StringValue).toBe('validation_error');
    expect([...(message!.MessageAttributes?.raw?.BinaryValue ?? [])]).toEqual([0, 1, 254, 255]);
    expect(message!.Attributes?.ApproximateReceiveCount).toBe('1');
  });

  it('hides a received message for the visibility timeout and redelivers it after', async () => {
    const QueueUrl = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'once' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1 }));
    expect(first.Messages).toHaveLength(1);
    expect(await depth(sqs, QueueUrl)).toEqual({ visible: 0, inFlight: 1 });
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? []).toHaveLength(0);

    // Long polling returns as soon as the message is visible again.
    const again = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 3, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
    );
    expect(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');

    // The first receipt handle is stale: deleting with it succeeds but leaves the message.
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.Messages![0]!.ReceiptHandle! }));
    expect(await depth(sqs, QueueUrl)).toEqual({ visible: 0, inFlight: 1 });
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: again.Messages![0]!.ReceiptHandle! }));
    expect(await depth(sqs, QueueUrl)).toEqual({ visible: 0, inFlight: 0 });

    await expect(sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'forged' }))).rejects.toBeInstanceOf(
      ReceiptHandleIsInvalid,
    );
  });

  it('sends batches, validates them, and purges', async () => {
    const QueueUrl = await newQueue();
    const entries = Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `body ${i}` }));
    const batch = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
    expect(batch.Successful).toHaveLength(10);
    expect(batch.Failed ?? []).toHaveLength(0);

    await expect(
      sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [...entries, { Id: 'm10', MessageBody: 'x' }] })),
    ).rejects.toBeInstanceOf(TooManyEntriesInBatchRequest);
    await expect(
      sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'a', MessageBody: 'y' }] })),
    ).rejects.toBeInstanceOf(BatchEntryIdsNotDistinct);

    // A bad entry fails alone; its neighbours are sent.
    const mixed = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'ok', MessageBody: 'fine' }, { Id: 'bad', MessageBody: 'nul \u0000' }] }),
    );
    expect(mixed.Successful?.map((s) => s.Id)).toEqual(['ok']);
    expect(mixed.Failed?.[0]).toMatchObject({ Id: 'bad', Code: 'InvalidMessageContents', SenderFault: true });

    // Order of a standard queue is best effort; locally it is send order.
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(received.Messages?.map((m) => m.Body)).toEqual(entries.map((e) => e.MessageBody));
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: received.Messages!.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    expect(deleted.Successful).toHaveLength(10);
    expect(await depth(sqs, QueueUrl)).toEqual({ visible: 1, inFlight: 0 });

    await sqs.send(new PurgeQueueCommand({ QueueUrl }));
    expect(await depth(sqs, QueueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('honours a queue delay', async () => {
    const QueueUrl = await newQueue({ DelaySeconds: '1' });
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'later' }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesDelayed: '1', DelaySeconds: '1' });
    expect(Attributes?.QueueArn).toMatch(/^arn:aws:sqs:us-east-1:000000000000:q-\d+$/);
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 3 }));
    expect(Messages?.[0]?.Body).toBe('later');
  });
});

describe('local SQS endpoint persistence', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps queues and undeleted messages across a restart on another port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fathom-sqs-'));
    dirs.push(dir);
    const journalFile = join(dir, 'journal.jsonl');

    const first = await startSqsEndpoint({ journalFile });
    const before = clientFor(first);
    const { QueueUrl } = await before.send(new CreateQueueCommand({ QueueName: 'dlq' }));
    await before.send(new SendMessageCommand({ QueueUrl, MessageBody: 'keep' }));
    await before.send(new SendMessageCommand({ QueueUrl, MessageBody: 'drop' }));
    const { Messages } = await before.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    const drop = Messages!.find((m) => m.Body === 'drop')!;
    await before.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: drop.ReceiptHandle! }));
    before.destroy();
    await first.close();

    const second = await startSqsEndpoint({ journalFile });
    const after = clientFor(second);
    try {
      const url = (await after.send(new GetQueueUrlCommand({ QueueName: 'dlq' }))).QueueUrl!;
      expect(url).toBe(`${second.url}/000000000000/dlq`);
      // In flight before the restart, visible after it: as if the visibility timeout had lapsed.
      const again = await after.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
      expect(again.Messages?.map((m) => m.Body)).toEqual(['keep']);
    } finally {
      after.destroy();
      await second.close();
    }
  });
});
