// One score request from body text to answer, over the ports: the model cache, the online store
// and the predictions log. The scoring Lambda wraps it in HTTP; the benchmark drives it with an in-memory store, so
// what is measured is exactly what the handler runs.
import type { ModelName } from '../../core/models/manifest';
import type { OnlineStorePort } from '../../core/pipeline/ports';
import { parseScoreBody } from '../../core/scoring/request';
import { predictionRow, type PredictionLogPort } from '../../core/scoring/prediction-log';
import { entityKeysFor, type ScoredRequest, type Scorer, type ScoreResponse } from '../../core/scoring/scorer';
import type { PredictionsRow } from '../../core/offline/tables';
import type { ModelCache } from './model-cache';

export interface ScoringServiceDeps {
  readonly scorer: Scorer;
  readonly models: Pick<ModelCache, 'acquire' | 'leaseLoaded'>;
  readonly store: Pick<OnlineStorePort, 'getMany'>;
  /** Served when a request names no model. */
  readonly defaultModel: ModelName;
  /**
   * Where each answer's `predictions` row goes. The row is sent before the answer returns: a Lambda
   * may be frozen, or never thawed, the moment it answers, so work left pending would be lost.
   * Absent: nothing is logged.
   */
  readonly predictions?: PredictionLogPort;
  /**
   * A row the log refused after its own retries. The answer is still returned (a scored request
   * should not fail for the audit trail); the handler logs the row in full and counts it, so it is
   * never dropped silently. Default: rethrow, failing the request.
   */
  readonly onPredictionNotLogged?: (row: PredictionsRow, error: unknown) => void;
  /** Test seam: the clock for `scored_at`. */
  readonly now?: () => Date;
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
    // The read starts first and the lease is taken while it is in flight: on a warm instance the
    // lease is there at once (leaseLoaded, no promise) and the one BatchGetItem is the only I/O
    // before the score (the predictions row is sent after). Plain awaits rather than
    // Promise.allSettled, whose bookkeeping was a measurable share of the in-process path. A read
    // that fails while a cold lease is still loading is marked handled at once (it must not surface
    // as an unhandled rejection); the lease's error wins, as before, and otherwise the read's error
    // is rethrown below, inside the try, so a lease taken while the read fails is still returned.
    const read = this.deps.store.getMany([keys.card, keys.merchant]);
    read.catch(ignore);
    const name = model ?? this.deps.defaultModel;
    const lease = this.deps.models.leaseLoaded(name) ?? (await this.deps.models.acquire(name));
    let scored: ScoredRequest;
    try {
      const items = await read;
      scored = await this.deps.scorer.scoreOne({ requestId, event, items: { card: items.get(keys.card), merchant: items.get(keys.merchant) } }, lease);
    } finally {
      // Before the log call: the model is not needed for it, and a swap waits on the last lease.
      lease.release();
    }
    if (this.deps.predictions) await this.logPrediction(predictionRow(scored, event, this.deps.now?.() ?? new Date()));
    return scored.answer;
  }

  private async logPrediction(row: PredictionsRow): Promise<void> {
    try {
      await this.deps.predictions!.log([row]);
    } catch (error) {
      if (!this.deps.onPredictionNotLogged) throw error;
      this.deps.onPredictionNotLogged(row, error);
    }
  }
}

/** The read's rejection is observed where it is awaited; this only marks it handled meanwhile. */
function ignore(): void {}
