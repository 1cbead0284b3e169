// Execution environments of one API function, as Lambda keeps them: each runs one invocation at a
// time (handlers keep per-invocation state in module scope: Powertools metrics, the logger's
// context), a new one is cold-started when all are busy, up to a cap beyond which requests wait
// (like Lambda's reserved concurrency; here it bounds cold starts and loaded models). Each
// invocation gets a Lambda Context with its deadline, and the timeout is enforced.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../aws-clients';

export type ApiFunction = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A loaded environment: its handler, and what releases its resources at shutdown. */
export interface ApiEnvironment {
  readonly handler: ApiFunction;
  close(): Promise<void>;
}

export class FunctionTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

export interface ApiFunctionPoolOptions {
  readonly functionName: string;
  readonly coldStart: () => Promise<ApiEnvironment>;
  readonly timeoutMs: number;
  readonly memoryLimitInMB?: number;
  /**
   * Most environments at once; further invocations wait for one to be free. Default 4: they all
   * share this process's one event loop (and the in-process stand-ins), so more only overlap I/O
   * a little further while each costs a cold start (the scoring function loads and verifies its
   * model) just when the load is highest.
   */
  readonly maxEnvironments?: number;
}

export class ApiFunctionPool {
  private readonly idle: ApiEnvironment[] = [];
  private readonly all: ApiEnvironment[] = [];
  private readonly waiting: Array<(environment: ApiEnvironment) => void> = [];
  private starting = 0;
  private readonly max: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: ApiFunctionPoolOptions) {
    this.max = options.maxEnvironments ?? 4;
  }

  /** Starts the first environment now, so a handler that cannot load fails at startup. */
  async warm(): Promise<void> {
    this.release(await this.start());
  }

  get environments(): number {
    return this.all.length;
  }

  /**
   * Runs one invocation. Rejects with FunctionTimeoutError past the timeout (the invocation keeps
   * running, as a timed-out Lambda's does until its sandbox is frozen, and its environment stays
   * busy until it ends), or with whatever the handler threw.
   */
  invoke(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    if (this.closed) return Promise.reject(new Error(`function ${this.options.functionName} is shut down`));
    const invocation = this.run(event);
    this.inFlight.add(invocation);
    const untrack = () => this.inFlight.delete(invocation);
    invocation.then(untrack, untrack);
    return invocation;
  }

  private async run(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const environment = await this.acquire();
    const requestId = randomUUID();
    const deadline = Date.now() + this.options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FunctionTimeoutError(this.options.timeoutMs)), this.options.timeoutMs);
    });
    const run = environment.handler(event, this.context(requestId, deadline));
    // The environment is free again only once the invocation has really finished.
    run.then(
      () => this.release(environment),
      () => this.release(environment),
    );
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Lets the invocations under way (queued ones included) finish, for at most the function
   * timeout, then releases every environment (their models, their clients).
   */
  async close(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.timeoutMs)));
    await Promise.race([Promise.allSettled([...this.inFlight]), limit]);
    clearTimeout(timer);
    await Promise.allSettled(this.all.map((e) => e.close()));
  }

  private async acquire(): Promise<ApiEnvironment> {
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.all.length + this.starting < this.max) return this.start();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(environment: ApiEnvironment): void {
    const next = this.waiting.shift();
    if (next) next(environment);
    else this.idle.push(environment);
  }

  private async start(): Promise<ApiEnvironment> {
    this.starting++;
    try {
      const environment = await this.options.coldStart();
      this.all.push(environment);
      return environment;
    } finally {
      this.starting--;
    }
  }

  private context(requestId: string, deadline: number): Context {
    const name = this.options.functionName;
    const unsupported = (what: string) => () => {
      throw new Error(`context.${what} is not supported: return (or throw) from an async handler instead`);
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`,
      memoryLimitInMB: String(this.options.memoryLimitInMB ?? 512),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: `local/[$LATEST]${requestId.replaceAll('-', '')}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported('done'),
      fail: unsupported('fail'),
      succeed: unsupported('succeed'),
    };
  }
}
