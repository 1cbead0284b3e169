// Execution environments for one function, as Lambda keeps them: each runs one invocation at a
// time, and a new one is cold-started when every existing one is busy. Handlers keep per-invocation
// state in module scope (Powertools' BatchProcessor does), so two invocations must never share one
// module instance; each environment here is a fresh instance of the handler module.
import type { KinesisFunction } from './function-invoker';

export class FunctionPool {
  private readonly idle: KinesisFunction[] = [];
  private created = 0;

  constructor(
    /** Loads a new instance of the function: a cold start. */
    private readonly coldStart: () => Promise<KinesisFunction>,
  ) {}

  /** Starts the first environment now, so a handler that cannot load fails at startup. */
  async warm(): Promise<void> {
    this.idle.push(await this.start());
  }

  /** Environments started so far (the function's concurrency high-water mark). */
  get environments(): number {
    return this.created;
  }

  readonly invoke: KinesisFunction = async (event, context) => {
    const environment = this.idle.pop() ?? (await this.start());
    try {
      return await environment(event, context);
    } finally {
      // Only once the invocation has really finished (even after a timeout was reported) is the
      // environment free again.
      this.idle.push(environment);
    }
  };

  private async start(): Promise<KinesisFunction> {
    const fn = await this.coldStart();
    this.created += 1;
    return fn;
  }
}
