// Dead letters on SQS: each malformed record with the reason and field that made it malformed.
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ResourceError } from '../core/errors';
import type { DeadLetter, DeadLetterPort } from '../core/pipeline/ports';

export interface DeadLetterQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** Names the producer in each letter. */
  readonly source: string;
  readonly maxRounds?: number;
}

const BATCH = 10;
/** SQS bodies are at most 256 KiB; a record's data is cut to leave room for the envelope. */
const MAX_DATA_CHARS = 200_000;

export class SqsDeadLetterQueue implements DeadLetterPort {
  constructor(private readonly options: DeadLetterQueueOptions) {}

  async send(letters: readonly DeadLetter[]): Promise<void> {
    for (let i = 0; i < letters.length; i += BATCH) await this.sendBatch(letters.slice(i, i + BATCH));
  }

  private async sendBatch(letters: readonly DeadLetter[]): Promise<void> {
    let entries = letters.map((l, i) => ({
      Id: String(i),
      MessageBody: JSON.stringify({
        source: this.options.source,
        reason: l.reason,
        field: l.field,
        record_id: l.recordId,
        shard_id: l.shardId,
        data: l.data.length > MAX_DATA_CHARS ? l.data.slice(0, MAX_DATA_CHARS) : l.data,
        data_truncated: l.data.length > MAX_DATA_CHARS,
        failed_at: new Date().toISOString(),
      }),
    }));
    const rounds = this.options.maxRounds ?? 5;
    for (let round = 0; entries.length > 0; round++) {
      if (round >= rounds) throw new ResourceError(`${this.options.queueUrl}: ${entries.length} dead letters not accepted after ${rounds} rounds`, this.options.queueUrl, true);
      if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
      let res;
      try {
        res = await this.options.client.send(new SendMessageBatchCommand({ QueueUrl: this.options.queueUrl, Entries: entries }));
      } catch (e) {
        throw new ResourceError(`${this.options.queueUrl}: ${(e as Error).message}`, this.options.queueUrl, true);
      }
      const failedIds = new Set((res.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((e) => failedIds.has(e.Id));
    }
  }
}
