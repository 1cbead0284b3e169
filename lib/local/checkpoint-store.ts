// Where a local event source mapping has got to in each shard, like the lease table AWS keeps for a
// mapping: a restarted `npm start` resumes after the last processed record instead of replaying
// the whole persisted stream.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CheckpointStore {
  /** The last sequence number fully processed (succeeded or discarded) in the shard. */
  get(shardId: string): string | undefined;
  set(shardId: string, sequenceNumber: string): void;
  flush(): void;
}

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, string>();
  get(shardId: string): string | undefined {
    return this.positions.get(shardId);
  }
  set(shardId: string, sequenceNumber: string): void {
    this.positions.set(shardId, sequenceNumber);
  }
  flush(): void {}
}

/**
 * Checkpoints in one JSON file, written at most every `intervalMs` and on flush. A crash loses at
 * most that interval of progress, which is redelivered: the at-least-once delivery Lambda also gives.
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly positions: Record<string, string>;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly intervalMs = 1000,
  ) {
    this.positions = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  }

  get(shardId: string): string | undefined {
    return this.positions[shardId];
  }

  set(shardId: string, sequenceNumber: string): void {
    this.positions[shardId] = sequenceNumber;
    this.dirty = true;
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs).unref();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.positions, null, 2));
    renameSync(`${this.file}.tmp`, this.file);
    this.dirty = false;
  }
}
