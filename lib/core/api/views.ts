// What the read routes answer: an entity's features and their age, and model versions. Built here
// from the stores' records so that nothing internal (package keys, object versions, bucket names,
// who pressed the button) can reach a client by being forgotten in a handler.
import type { HoldoutMetrics, ModelName, ModelVersion } from '../models/manifest';
import type { ModelState, ModelVersionRecord } from '../models/ports';

export interface FeaturesView {
  readonly request_id: string;
  readonly entity_id: string;
  readonly feature_set: string;
  /** The entity-only features as of the newest event the online store holds for the entity (a feature without a value is null in JSON). */
  readonly features: Readonly<Record<string, number>>;
  /** Event time of that newest event (ISO 8601). */
  readonly as_of: string | null;
  /** When the online store last wrote the entity (ISO 8601). */
  readonly updated_at: string | null;
  /** Now minus `as_of`, in seconds: how old the features are in event time. */
  readonly age_seconds: number | null;
}

export interface FeaturesViewInput {
  readonly requestId: string;
  readonly entityId: string;
  readonly featureSet: string;
  readonly features: Readonly<Record<string, number>>;
  /** Epoch ms, or undefined when the item does not say. */
  readonly asOf: number | undefined;
  readonly updatedAt: string | undefined;
  readonly now: number;
}

export function featuresView(input: FeaturesViewInput): FeaturesView {
  const asOf = input.asOf !== undefined && Number.isFinite(input.asOf) && input.asOf >= 0 ? input.asOf : undefined;
  return {
    request_id: input.requestId,
    entity_id: input.entityId,
    feature_set: input.featureSet,
    features: { ...input.features },
    as_of: asOf === undefined ? null : new Date(asOf).toISOString(),
    updated_at: input.updatedAt ?? null,
    age_seconds: asOf === undefined ? null : Math.round((input.now - asOf) / 100) / 10,
  };
}

export interface TransitionView {
  readonly from: ModelState | null;
  readonly to: ModelState;
  readonly at: string;
  readonly reason: string;
}

export interface ModelVersionView {
  readonly version: ModelVersion;
  readonly state: ModelState;
  readonly tier: string;
  readonly feature_set: string;
  readonly registered_at: string;
  readonly metrics: HoldoutMetrics;
  readonly transitions: readonly TransitionView[];
}

export interface ModelView {
  readonly name: ModelName;
  readonly production_version: ModelVersion | null;
  readonly versions: readonly ModelVersionView[];
}

/**
 * A version as a client sees it. Not the package location (keys and object versions name the
 * bucket layout) and not the actor of a transition (an operator's login is not a client's business).
 */
export function modelVersionView(record: ModelVersionRecord): ModelVersionView {
  return {
    version: record.version,
    state: record.state,
    tier: record.tier,
    feature_set: record.featureSet,
    registered_at: record.registeredAt,
    metrics: record.metrics,
    transitions: record.transitions.map((t) => ({ from: t.from, to: t.to, at: t.at, reason: t.reason })),
  };
}

/** Records of any number of model names, grouped by name (names sorted, versions as given). */
export function modelViews(records: readonly ModelVersionRecord[]): ModelView[] {
  const byName = new Map<ModelName, ModelVersionRecord[]>();
  for (const r of records) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, versions]) => ({
      name,
      production_version: versions.find((v) => v.state === 'production')?.version ?? null,
      versions: versions.map(modelVersionView),
    }));
}
