// Durability for the local SQS endpoint: an append-only JSONL journal of queue mutations, replayed
// at start and then compacted. Receives are not journalled: after a restart every message is
// visible again, which is what SQS does once a visibility timeout lapses.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessageAttributes, QueueMessage } from './sqs-queue';

export type JournalEntry =
  | { readonly op: 'create'; readonly queue: string; readonly attributes: Record<string, string>; readonly createdAt: number }
  | {
      readonly op: 'send';
      readonly queue: string;
      readonly messageId: string;
      readonly body: string;
      readonly attributes: MessageAttributes;
      readonly sentTimestamp: number;
      readonly visibleAt: number;
    }
  | { readonly op: 'delete'; readonly queue: string; readonly messageId: string }
  | { readonly op: 'purge'; readonly queue: string };

export interface QueueJournal {
  append(entry: JournalEntry): void;
}

export function sendEntry(queue: string, message: QueueMessage): JournalEntry {
  const { messageId, body, attributes, sentTimestamp, visibleAt } = message;
  return { op: 'send', queue, messageId, body, attributes, sentTimestamp, visibleAt };
}

export class JsonlJournal implements QueueJournal {
  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  /** Entries in write order; a torn last line (crash mid-write) is ignored. */
  read(): JournalEntry[] {
    if (!existsSync(this.file)) return [];
    const entries: JournalEntry[] = [];
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        break;
      }
    }
    return entries;
  }

  /** Replaces the journal with the given entries, atomically (write then rename). */
  rewrite(entries: readonly JournalEntry[]): void {
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, entries.map((e) => JSON.stringify(e) + '\n').join(''));
    renameSync(temporary, this.file);
  }

  // Synchronous on purpose: the write is ordered with the reply, so an acknowledged send is on disk.
  append(entry: JournalEntry): void {
    appendFileSync(this.file, JSON.stringify(entry) + '\n');
  }
}
