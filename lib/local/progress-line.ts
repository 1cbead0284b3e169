// A status line for long local runs. On a terminal it is redrawn in place (\r, clear to end of
// line) a few times a second; in a pipe or a CI log, where \r would pile up as one giant line, a
// plain line is written every few seconds instead.

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export interface ProgressLineOptions {
  readonly stream?: ProgressStream;
  /** Redraw interval on a terminal. Default 250 ms. */
  readonly ttyIntervalMs?: number;
  /** Line interval elsewhere. Default 5 s. */
  readonly plainIntervalMs?: number;
}

export class ProgressLine {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;
  private drawn = false;

  constructor(
    /** Produces the current text; may be async (it can query the platform). */
    private readonly sample: () => string | Promise<string>,
    options: ProgressLineOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    const interval = this.tty ? (options.ttyIntervalMs ?? 250) : (options.plainIntervalMs ?? 5000);
    this.timer = setInterval(() => void this.tick(), interval);
    this.timer.unref();
  }

  /** Draws once more with the final figures and ends the line. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const text = await this.sample();
    this.draw(text);
    if (this.tty && this.drawn) this.stream.write('\n');
  }

  private async tick(): Promise<void> {
    // A slow sample (a query to a busy stand-in) must not stack up behind itself.
    if (this.sampling || !this.timer) return;
    this.sampling = true;
    try {
      const text = await this.sample();
      if (this.timer) this.draw(text);
    } catch {
      // A failed sample is skipped; the next tick tries again.
    } finally {
      this.sampling = false;
    }
  }

  private draw(text: string): void {
    this.stream.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
    this.drawn = true;
  }
}
