// The scoring core: entity items from the online store + the request event → the engine's f(S, e)
// (exactly the vector the stream would log for this event) → the model → score, decision and
// reasons. No I/O: the caller fetches the items and holds the model.
import { ResourceError, ValidationError } from '../errors';
import type { FeatureEngine } from '../features/engine';
import { deserializeCard, deserializeMerchant } from '../features/serialize';
import type { CardState, MerchantState } from '../features/state';
import type { Manifest, ModelName, ModelVersion } from '../models/manifest';
import type { LoadedModel } from '../models/ports';
import { topReasons, type Reason } from '../models/contributions';
import { entityKey } from '../pipeline/keys';
import type { StoredEntity } from '../pipeline/ports';
import type { TimedEvent } from '../schemas/event';

/** A verified manifest and the model loaded from it. */
export interface ServedModel {
  readonly manifest: Manifest;
  readonly model: LoadedModel;
}

/** A feature that pushed the score up, its value in this request's vector, and its log-odds share. */
export type { Reason } from '../models/contributions';

/**
 * The answer to a score request. The decision is a single `flagged` flag, `score >= threshold`,
 * with the manifest's threshold beside it: the registry holds one threshold per model version, and
 * a three-way approve/review/decline would need a second one that nothing calibrates yet.
 */
export interface ScoreResponse {
  readonly request_id: string;
  readonly model: { readonly name: ModelName; readonly version: ModelVersion; readonly tier: string };
  /** P(positive), as the model computed it (float32). */
  readonly score: number;
  readonly flagged: boolean;
  readonly threshold: number;
  /**
   * Up to `reasons` features that pushed the score up the most (Saabas contributions, see
   * models/contributions.ts), largest first: the risk factors behind the score. Fewer, or none,
   * when fewer features pushed it up; empty when the model cannot explain itself.
   */
  readonly reasons: Reason[];
  /**
   * Event time of the request minus event time of the newest event in the card's state, in seconds:
   * how much of the card's recent history the features may be missing. Negative when the state
   * already holds later events (a replayed or late request). Null for a card with no state.
   */
  readonly entity_state_age_seconds: number | null;
  /** True when the card has no state in the online store: its features are those of a first event. */
  readonly cold_start: boolean;
  readonly feature_set: string;
}

/** The online-store items a request needs; absent ones are entities never seen (or expired). */
export interface EntityItems {
  readonly card?: StoredEntity | undefined;
  readonly merchant?: StoredEntity | undefined;
}

export interface ScoreInput {
  readonly requestId: string;
  readonly event: TimedEvent;
  readonly items: EntityItems;
}

/** The online-store keys of the event's card and merchant. */
export function entityKeysFor(event: Pick<TimedEvent, 'entity_id' | 'merchant_id'>): { readonly card: string; readonly merchant: string } {
  return { card: entityKey('card', event.entity_id), merchant: entityKey('merchant', event.merchant_id) };
}

export interface FeatureRow {
  readonly values: number[];
  readonly coldStart: boolean;
  readonly stateAgeSeconds: number | null;
}

/** An answer and the exact feature vector the model scored (NaN: missing). */
export interface ScoredRequest {
  readonly answer: ScoreResponse;
  readonly features: readonly number[];
}

export interface ScorerOptions {
  /** How many reasons an answer carries. Default 3. */
  readonly reasons?: number;
}

export class Scorer {
  private readonly reasonCount: number;

  constructor(
    readonly engine: FeatureEngine,
    options: ScorerOptions = {},
  ) {
    this.reasonCount = options.reasons ?? 3;
  }

  /** f(S, e) for the request event; an unknown card or merchant gets the features of a first event. */
  features(event: TimedEvent, items: EntityItems): FeatureRow {
    const card = items.card ? this.cardState(items.card) : undefined;
    const merchant = items.merchant ? this.merchantState(items.merchant) : undefined;
    // The card state was read from its item for this request alone: the engine may apply its
    // buffered events in place rather than to a copy.
    const values = this.engine.vectorFor(card, event, merchant, { consume: true });
    const stateAgeSeconds = card && card.maxTs >= 0 ? (event.ts - card.maxTs) / 1000 : null;
    return { values, coldStart: card === undefined, stateAgeSeconds };
  }

  async score(input: ScoreInput, served: ServedModel): Promise<ScoreResponse> {
    return (await this.scoreOne(input, served)).answer;
  }

  /**
   * One request, with the vector it was scored from: `scoreDetailed([input])`'s answer without the
   * per-batch arrays, for the one-event-per-call scoring path where they are a measurable share.
   */
  async scoreOne(input: ScoreInput, served: ServedModel): Promise<ScoredRequest> {
    const { manifest, model } = served;
    const row = this.features(input.event, input.items);
    const x = new Float32Array(manifest.features.length);
    x.set(row.values);
    const scores = await model.score(x, 1);
    const answer = this.answer(input.requestId, served, scores[0]!, row, x);
    return { answer, features: row.values };
  }

  /** Many requests in one model call: the same answers as `score` one by one, at batch throughput. */
  async scoreBatch(inputs: readonly ScoreInput[], served: ServedModel): Promise<ScoreResponse[]> {
    return (await this.scoreDetailed(inputs, served)).map((s) => s.answer);
  }

  /** `scoreBatch`, with the feature vector each answer was computed from (what `predictions` logs). */
  async scoreDetailed(inputs: readonly ScoreInput[], served: ServedModel): Promise<ScoredRequest[]> {
    const width = served.manifest.features.length;
    const rows = inputs.map((input) => this.features(input.event, input.items));
    const matrix = new Float32Array(rows.length * width);
    rows.forEach((row, r) => matrix.set(row.values, r * width));
    const scores = await served.model.score(matrix, rows.length);
    return rows.map((row, r) => ({ answer: this.answer(inputs[r]!.requestId, served, scores[r]!, row, matrix.subarray(r * width, (r + 1) * width)), features: row.values }));
  }

  /** The answer to one request from its score; `x` is the float32 row the model scored. */
  private answer(requestId: string, { manifest, model }: ServedModel, score: number, row: FeatureRow, x: Float32Array): ScoreResponse {
    return {
      request_id: requestId,
      model: { name: manifest.name, version: manifest.version, tier: manifest.tier },
      score,
      flagged: score >= manifest.threshold,
      threshold: manifest.threshold,
      reasons: this.reasons(model, manifest.features, row.values, x),
      entity_state_age_seconds: row.stateAgeSeconds,
      cold_start: row.coldStart,
      feature_set: manifest.feature_set,
    };
  }

  private reasons(model: LoadedModel, names: readonly string[], values: readonly number[], row: Float32Array): Reason[] {
    if (this.reasonCount === 0) return [];
    const contributions = model.contributions(row);
    if (!contributions) return [];
    return topReasons(contributions, names, values, this.reasonCount);
  }

  private cardState(item: StoredEntity): CardState {
    if (item.kind !== 'card') throw new ResourceError(`online store item ${item.pk} is a ${item.kind}, not a card`, item.pk, false);
    try {
      return deserializeCard(this.engine, item.state);
    } catch (e) {
      throw unreadable(item, e);
    }
  }

  private merchantState(item: StoredEntity): MerchantState {
    if (item.kind !== 'merchant') throw new ResourceError(`online store item ${item.pk} is a ${item.kind}, not a merchant`, item.pk, false);
    try {
      return deserializeMerchant(this.engine, item.state);
    } catch (e) {
      throw unreadable(item, e);
    }
  }
}

/** A stored state that does not parse is the platform's fault, never the client's: not a ValidationError. */
function unreadable(item: StoredEntity, e: unknown): ResourceError {
  const why = e instanceof ValidationError ? `${e.field}: ${e.message}` : String(e);
  return new ResourceError(`online store item ${item.pk}: state unreadable (${why})`, item.pk, false);
}
