// The application side of `npm start`: while the replay feeds the stream, a simulated client calls
// the local API the way an application would. It scores events as they happen (POST /v1/score,
// before the event goes on the stream, as an authorization precedes its record), paced below its
// usage plan's rate so the plan never has to throttle it, and it sends each event's ground truth
// (POST /v1/labels, batched) once the label's time has come in the replay's event time. Those calls
// run through the same authorizer, usage plan and handlers as on AWS, and are what fill the offline
// `predictions` and `labels` tables locally.
import type { GeneratedEvent } from '../core/generator';
import { ResourceError } from '../core/errors';
import type { Scope } from '../core/api/routes';
import type { LocalIssuer } from './api/issuer';

/** What the simulated client needs of the local API. */
export interface ClientTrafficOptions {
  /** The stage's base URL, e.g. http://127.0.0.1:3000/v1. */
  readonly baseUrl: string;
  readonly client: string;
  readonly apiKey: string;
  readonly issuer: Pick<LocalIssuer, 'sign'>;
  /** Score requests per second at most; 0 scores nothing. */
  readonly scoresPerSecond: number;
  /** Send labels (default true). */
  readonly labels?: boolean;
  /** Labels per POST /v1/labels, 1 to 500. Default 500. */
  readonly labelBatch?: number;
  /** Tries per call before it counts as failed (429 and 5xx are retried). Default 5. */
  readonly maxAttempts?: number;
  /** Failures are reported here (the first few of each kind). */
  readonly log?: (line: string) => void;
  /** Test seam: the clock, in ms. */
  readonly now?: () => number;
}

export interface ClientTrafficStats {
  readonly scored: number;
  readonly flagged: number;
  readonly score_failures: number;
  readonly labels_sent: number;
  readonly label_failures: number;
  /** Labels still in the future of the replay's event time when it ended: never sent, as in life. */
  readonly labels_not_yet_known: number;
}

interface LabelBody {
  readonly event_id: string;
  readonly label: 0 | 1;
  readonly labeled_at: string;
}
interface PendingLabel {
  readonly at: number;
  readonly label: LabelBody;
}

const SCOPES: readonly Scope[] = ['score', 'label'];
const MINUTE_MS = 60_000;
const REPORTED_FAILURES = 3;
/** Renew the token this long before it expires: a long `npm start` outlives one token. */
const TOKEN_MARGIN_S = 300;

export class ClientTraffic {
  private tokens: number;
  private lastRefill: number;
  private token: { value: string; expiresAt: number } | undefined;
  /**
   * Labels not yet known, by the minute of event time they become known in. The replay's event
   * time only moves forward (within its lateness), so a cursor over minutes releases them in order
   * without sorting: each minute is visited once.
   */
  private readonly pendingByMinute = new Map<number, PendingLabel[]>();
  private pendingCount = 0;
  /** Minutes before this one have been released. */
  private cursor: number | undefined;
  private due: LabelBody[] = [];
  private readonly counts = { scored: 0, flagged: 0, score_failures: 0, labels_sent: 0, label_failures: 0 };
  private labelCallFailures = 0;
  private readonly now: () => number;
  private readonly labelBatch: number;

  constructor(private readonly options: ClientTrafficOptions) {
    this.now = options.now ?? (() => performance.now());
    this.tokens = Math.min(1, options.scoresPerSecond);
    this.lastRefill = this.now();
    this.labelBatch = options.labelBatch ?? 500;
    if (!Number.isInteger(this.labelBatch) || this.labelBatch < 1 || this.labelBatch > 500) throw new RangeError('labelBatch must be an integer from 1 to 500');
  }

  /**
   * The replay is about to put `item` on the stream. Scores it when the pace allows (awaited, so the
   * stream gets the event after its score, as in production), and sends the labels that are known
   * by its event time.
   */
  async before(item: GeneratedEvent): Promise<void> {
    const t = Date.parse(item.event.event_time);
    if (this.options.labels !== false) {
      this.addLabel({ at: Date.parse(item.label_available_at), label: { event_id: item.event.event_id, label: item.label, labeled_at: item.label_available_at } });
      this.release(t);
      while (this.due.length >= this.labelBatch) await this.sendLabels(this.due.splice(0, this.labelBatch));
    }
    if (this.takeScoreToken()) await this.score(item);
  }

  /** The replay ended: sends the labels known by its last event time. */
  async finish(lastEventTime: number): Promise<ClientTrafficStats> {
    this.release(lastEventTime);
    // The last minute in part: what is known by the last event itself.
    const minute = Math.floor(lastEventTime / MINUTE_MS);
    const partial = this.pendingByMinute.get(minute) ?? [];
    const known = partial.filter((p) => p.at <= lastEventTime);
    if (known.length > 0) {
      this.pendingByMinute.set(minute, partial.filter((p) => p.at > lastEventTime));
      this.pendingCount -= known.length;
      for (const p of known) this.due.push(p.label);
    }
    while (this.due.length > 0) await this.sendLabels(this.due.splice(0, this.labelBatch));
    return this.stats();
  }

  stats(): ClientTrafficStats {
    return { ...this.counts, labels_not_yet_known: this.pendingCount };
  }

  private addLabel(p: PendingLabel): void {
    const minute = Math.floor(p.at / MINUTE_MS);
    if (this.cursor !== undefined && minute < this.cursor) {
      this.due.push(p.label);
      return;
    }
    const bucket = this.pendingByMinute.get(minute);
    if (bucket) bucket.push(p);
    else this.pendingByMinute.set(minute, [p]);
    this.pendingCount++;
  }

  /** Moves the labels of every whole minute before event time `t` to `due`. */
  private release(t: number): void {
    const end = Math.floor(t / MINUTE_MS);
    if (this.cursor === undefined) this.cursor = Math.min(end, ...this.pendingByMinute.keys());
    for (; this.cursor < end; this.cursor++) {
      const bucket = this.pendingByMinute.get(this.cursor);
      if (!bucket) continue;
      this.pendingByMinute.delete(this.cursor);
      this.pendingCount -= bucket.length;
      for (const p of bucket) this.due.push(p.label);
    }
  }

  /** A token bucket of one second's worth: the client never bursts past its pace. */
  private takeScoreToken(): boolean {
    const rate = this.options.scoresPerSecond;
    if (rate <= 0) return false;
    const now = this.now();
    this.tokens = Math.min(Math.max(1, rate), this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async score(item: GeneratedEvent): Promise<void> {
    try {
      const answer = (await this.call('/score', { event: item.event })) as { flagged?: unknown };
      this.counts.scored++;
      if (answer.flagged === true) this.counts.flagged++;
    } catch (error) {
      if (this.counts.score_failures++ < REPORTED_FAILURES) this.options.log?.(`client: score request for ${item.event.event_id} failed: ${(error as Error).message}`);
    }
  }

  private async sendLabels(labels: LabelBody[]): Promise<void> {
    try {
      await this.call('/labels', { labels });
      this.counts.labels_sent += labels.length;
    } catch (error) {
      this.counts.label_failures += labels.length;
      if (this.labelCallFailures++ < REPORTED_FAILURES) this.options.log?.(`client: ${labels.length} labels not sent: ${(error as Error).message}`);
    }
  }

  private async bearer(): Promise<string> {
    const nowS = Date.now() / 1000;
    if (!this.token || this.token.expiresAt - TOKEN_MARGIN_S < nowS) {
      const issued = await this.options.issuer.sign({ client: this.options.client, scopes: SCOPES });
      this.token = { value: issued.token, expiresAt: issued.expiresAt };
    }
    return this.token.value;
  }

  /** One POST, retried on 429 and 5xx with backoff; anything else that is not 2xx fails at once. */
  private async call(path: string, body: unknown): Promise<unknown> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    const url = `${this.options.baseUrl}${path}`;
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.options.apiKey, authorization: `Bearer ${await this.bearer()}` },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.ok) return JSON.parse(text) as unknown;
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt >= maxAttempts) throw new ResourceError(`POST ${path} answered ${response.status}: ${text.slice(0, 300)}`, path, retryable);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
    }
  }
}
