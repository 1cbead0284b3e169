// A usage plan's limits for one API key, as API Gateway applies them: a token bucket (the burst is
// its size, the rate its refill per second) and a quota of requests per UTC day. Pure: the clock
// is passed in, so the local API and the tests drive the same arithmetic.

export interface UsagePlanLimits {
  /** Steady requests per second. */
  readonly rateLimit: number;
  /** Bucket size: requests that may arrive at once. */
  readonly burstLimit: number;
  /** Requests per UTC day. */
  readonly quotaPerDay: number;
}

export type Admission =
  | { readonly ok: true; readonly remainingToday: number }
  /** `retryAfterSeconds`: whole seconds until a request would be admitted (Retry-After). */
  | { readonly ok: false; readonly reason: 'rate' | 'quota'; readonly retryAfterSeconds: number };

const DAY_MS = 86_400_000;

export class UsagePlanMeter {
  private tokens: number;
  private refilledAt: number;
  private day: number;
  private usedToday = 0;

  constructor(
    readonly limits: UsagePlanLimits,
    now: number,
  ) {
    this.tokens = limits.burstLimit;
    this.refilledAt = now;
    this.day = Math.floor(now / DAY_MS);
  }

  /**
   * Takes one request if the bucket has a token and the day's quota is not spent. A refused
   * request costs nothing (API Gateway does not count throttled requests against the quota).
   */
  take(now: number): Admission {
    const day = Math.floor(now / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.usedToday = 0;
    }
    if (this.usedToday >= this.limits.quotaPerDay) {
      return { ok: false, reason: 'quota', retryAfterSeconds: Math.max(1, Math.ceil(((day + 1) * DAY_MS - now) / 1000)) };
    }
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.limits.burstLimit, this.tokens + elapsed * this.limits.rateLimit);
    this.refilledAt = now;
    if (this.tokens < 1) {
      const wait = this.limits.rateLimit > 0 ? (1 - this.tokens) / this.limits.rateLimit : Number.POSITIVE_INFINITY;
      return { ok: false, reason: 'rate', retryAfterSeconds: Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : 60 };
    }
    this.tokens -= 1;
    this.usedToday += 1;
    return { ok: true, remainingToday: this.limits.quotaPerDay - this.usedToday };
  }
}
