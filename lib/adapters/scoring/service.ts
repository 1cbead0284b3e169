// One score request from body text to answer, over the ports: the model cache and the online
// store. The scoring Lambda wraps it in HTTP; the benchmark drives it with an in-memory store, so
// what is measured is exactly what the handler runs.
import type { ModelName } from '../../core/models/manifest';
import type { OnlineStorePort } from '../../core/pipeline/ports';
import { parseScoreBody } from '../../core/scoring/request';
import { entityKeysFor, type Scorer, type ScoreResponse } from '../../core/scoring/scorer';
import type { ModelCache } from './model-cache';

export interface ScoringServiceDeps {
  readonly scorer: Scorer;
  readonly models: Pick<ModelCache, 'acquire'>;
  readonly store: Pick<OnlineStorePort, 'getMany'>;
  /** Served when a request names no model. */
  readonly defaultModel: ModelName;
}

export class ScoringService {
  constructor(private readonly deps: ScoringServiceDeps) {}

  /**
   * Scores the request in `body`.
   * @throws ValidationError naming the field for bad input; the model cache's errors; the store's ResourceError.
   */
  async score(body: string | null | undefined, requestId: string): Promise<ScoreResponse> {
    const parsed = parseScoreBody(body);
    if (!parsed.ok) throw parsed.error;
    const { event, model } = parsed.value;
    const keys = entityKeysFor(event);
    // The lease and the read in parallel: on a warm instance the lease is immediate and the one
    // BatchGetItem is the request's only I/O. Settled, not raced, so a lease taken while the read
    // fails is still returned.
    const [leased, read] = await Promise.allSettled([this.deps.models.acquire(model ?? this.deps.defaultModel), this.deps.store.getMany([keys.card, keys.merchant])]);
    if (leased.status === 'rejected') throw leased.reason;
    const lease = leased.value;
    try {
      if (read.status === 'rejected') throw read.reason;
      const items = read.value;
      return await this.deps.scorer.score({ requestId, event, items: { card: items.get(keys.card), merchant: items.get(keys.merchant) } }, lease);
    } finally {
      lease.release();
    }
  }
}
