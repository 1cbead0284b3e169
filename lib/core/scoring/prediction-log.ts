// What a served score leaves in the offline store: one `predictions` row with the exact vector the
// model saw, so monitoring can compare served features with the stream's `feature_log` (skew) and
// join scores to `labels` (accuracy) without recomputing anything.
import type { PredictionsRow } from '../offline/tables';
import type { TimedEvent } from '../schemas/event';
import type { ScoredRequest } from './scorer';

/** The `decision` column: the answer's `flagged` as a word, so SQL reads it without a lookup. */
export const DECISIONS = { flagged: 'flagged', passed: 'passed' } as const;
export type Decision = (typeof DECISIONS)[keyof typeof DECISIONS];

/** Where served predictions go (the `predictions` delivery stream on AWS and locally). */
export interface PredictionLogPort {
  /**
   * Sends the rows; resolves once they are accepted.
   * @throws ResourceError when they could not be delivered (the caller decides what a lost row costs).
   */
  log(rows: readonly PredictionsRow[]): Promise<void>;
}

export function predictionRow(scored: ScoredRequest, event: Pick<TimedEvent, 'event_id' | 'entity_id' | 'ts'>, scoredAt: Date): PredictionsRow {
  const { answer, features } = scored;
  return {
    request_id: answer.request_id,
    event_id: event.event_id,
    entity_id: event.entity_id,
    model_name: answer.model.name,
    model_version: answer.model.version,
    score: answer.score,
    decision: answer.flagged ? DECISIONS.flagged : DECISIONS.passed,
    feature_set: answer.feature_set,
    // NaN (the engine's missing value) becomes null in the table: PREDICTIONS_TABLE's schema maps it.
    features: [...features],
    event_time: new Date(event.ts).toISOString(),
    scored_at: scoredAt.toISOString(),
  };
}
