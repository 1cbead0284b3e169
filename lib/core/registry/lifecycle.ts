// The registry's lifecycle policy, pure: which state changes are allowed, what a promotion or a
// rollback changes, and the invariant that one model name has at most one production version.
//
//   candidate ─► staging ─► canary ─► production ─► archived
//        │          │  └───────────────►┘   ▲
//        │          │        │              └── rollback (archived ─► production)
//        └──────────┴────────┴──► archived
//
// - candidate → staging | archived
// - staging → canary | production | archived. Skipping the canary is allowed because every
//   transition carries a reason, and a hotfix may have no traffic to canary on.
// - canary → production | staging | archived. Back to staging when a canary is aborted for a
//   reason that is not the model's fault (the canary window was too quiet to judge).
// - production → archived: the model is retired and serves no version until another is promoted.
// - archived is final for `promote`; only `rollback` brings a version back, and only the one that
//   was production before the current one.
// Promoting a version to production archives the current production version in the same plan, and
// pushes it on the pointer's history, which is what rollback pops.
import { ResourceError, TransitionError, ValidationError } from '../errors';
import type { ModelName, ModelVersion } from '../models/manifest';
import type { ModelState, Transition } from '../models/ports';

export const ALLOWED_TRANSITIONS: Readonly<Record<ModelState, readonly ModelState[]>> = {
  candidate: ['staging', 'archived'],
  staging: ['canary', 'production', 'archived'],
  canary: ['production', 'staging', 'archived'],
  production: ['archived'],
  archived: [],
};

/** Earlier production versions the pointer remembers for rollback; beyond them, versions stay archived. */
export const MAX_PRODUCTION_HISTORY = 50;
export const MAX_ACTOR_LENGTH = 128;
export const MAX_REASON_LENGTH = 1000;

/** The pointer item's content: which version serves, a revision every transition bumps, and what served before. */
export interface ProductionPointer {
  readonly production: ModelVersion | undefined;
  /** 0 when the pointer item does not exist yet. */
  readonly revision: number;
  /** Versions that were production before the current one, oldest first; rollback restores the last. */
  readonly history: readonly ModelVersion[];
}

export const EMPTY_POINTER: ProductionPointer = { production: undefined, revision: 0, history: [] };

/** One model name as the registry holds it: every version's state and the pointer. */
export interface LifecycleView {
  readonly name: ModelName;
  readonly states: ReadonlyMap<ModelVersion, ModelState>;
  readonly pointer: ProductionPointer;
}

/** Who, why and when: every transition records them. */
export interface TransitionRequest {
  readonly actor: string;
  readonly reason: string;
  /** ISO 8601 timestamp. */
  readonly at: string;
}

export interface VersionChange {
  readonly version: ModelVersion;
  /** `from` is never null here: only registration creates a version. */
  readonly transition: Transition & { readonly from: ModelState };
}

/** What one transition changes: version items, in order, and the pointer's next content. */
export interface TransitionPlan {
  readonly changes: readonly VersionChange[];
  readonly pointer: ProductionPointer;
}

export function isTransitionAllowed(from: ModelState, to: ModelState): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/** Trims and checks the actor and reason every transition records; a ValidationError names the one at fault. */
export function checkRequest(request: TransitionRequest): TransitionRequest {
  const actor = request.actor.trim();
  const reason = request.reason.trim();
  if (actor === '') throw new ValidationError('actor must not be empty: every transition records who made it', 'actor');
  if (actor.length > MAX_ACTOR_LENGTH) throw new ValidationError(`actor must be at most ${MAX_ACTOR_LENGTH} characters`, 'actor');
  if (reason === '') throw new ValidationError('reason must not be empty: every transition records why it was made', 'reason');
  if (reason.length > MAX_REASON_LENGTH) throw new ValidationError(`reason must be at most ${MAX_REASON_LENGTH} characters`, 'reason');
  if (Number.isNaN(Date.parse(request.at))) throw new ValidationError(`at must be an ISO 8601 timestamp (got "${request.at}")`, 'at');
  return { actor, reason, at: request.at };
}

/** The record of a version's creation. */
export function registrationTransition(request: TransitionRequest): Transition {
  const r = checkRequest(request);
  return { from: null, to: 'candidate', actor: r.actor, reason: r.reason, at: r.at };
}

function stateOf(view: LifecycleView, version: ModelVersion): ModelState {
  const state = view.states.get(version);
  if (state === undefined) {
    throw new ResourceError(`model ${view.name} has no version ${version}`, `model#${view.name}/version#${version}`, false);
  }
  return state;
}

function change(version: ModelVersion, from: ModelState, to: ModelState, request: TransitionRequest): VersionChange {
  return { version, transition: { from, to, actor: request.actor, reason: request.reason, at: request.at } };
}

const pushHistory = (history: readonly ModelVersion[], version: ModelVersion): ModelVersion[] =>
  [...history.filter((v) => v !== version), version].slice(-MAX_PRODUCTION_HISTORY);

/**
 * The plan that moves `version` to `to`. Throws a TransitionError naming the version and both
 * states when the policy refuses, a ResourceError when the version does not exist.
 */
export function planPromotion(view: LifecycleView, version: ModelVersion, to: ModelState, request: TransitionRequest): TransitionPlan {
  const r = checkRequest(request);
  const from = stateOf(view, version);
  const { pointer } = view;
  if (from === to) {
    throw new TransitionError(`model ${view.name} version ${version} is already ${to}`, view.name, version, from, to);
  }
  if (!isTransitionAllowed(from, to)) {
    const allowed = ALLOWED_TRANSITIONS[from];
    const hint =
      from === 'archived'
        ? 'archived is final; `rollback` restores the version that was production before the current one'
        : `allowed from ${from}: ${allowed.join(', ')}`;
    throw new TransitionError(`model ${view.name} version ${version}: ${from} → ${to} is not allowed (${hint})`, view.name, version, from, to);
  }
  const revision = pointer.revision + 1;

  if (to === 'production') {
    const current = pointer.production;
    const changes: VersionChange[] = [];
    // The old production version is archived before the new one is recorded as production, so an
    // observer of the version items alone never sees two production versions.
    if (current !== undefined && current !== version) changes.push(change(current, 'production', 'archived', r));
    changes.push(change(version, from, 'production', r));
    return {
      changes,
      pointer: { production: version, revision, history: current === undefined ? pointer.history : pushHistory(pointer.history, current) },
    };
  }
  if (from === 'production') {
    // Retiring the serving version: nothing serves until another is promoted or rolled back.
    return { changes: [change(version, from, to, r)], pointer: { production: undefined, revision, history: pushHistory(pointer.history, version) } };
  }
  return { changes: [change(version, from, to, r)], pointer: { ...pointer, revision } };
}

/**
 * The plan that restores the version that was production before the current one (or, when none is
 * production, the last one that was) and archives the current one. The restored version leaves
 * the history, so a second rollback goes one further back instead of undoing the first.
 */
export function planRollback(view: LifecycleView, request: TransitionRequest): TransitionPlan {
  const r = checkRequest(request);
  const { pointer } = view;
  const target = pointer.history.at(-1);
  if (target === undefined) {
    throw new TransitionError(`model ${view.name} has no earlier production version to roll back to`, view.name, pointer.production, 'production', 'production');
  }
  const targetState = stateOf(view, target);
  if (targetState !== 'archived') {
    throw new TransitionError(
      `model ${view.name} version ${target} cannot be rolled back to: it is ${targetState}, not archived`,
      view.name,
      target,
      targetState,
      'production',
    );
  }
  const changes: VersionChange[] = [];
  if (pointer.production !== undefined) changes.push(change(pointer.production, 'production', 'archived', r));
  changes.push(change(target, 'archived', 'production', r));
  return { changes, pointer: { production: target, revision: pointer.revision + 1, history: pointer.history.slice(0, -1) } };
}

/** The states after a plan, for callers that show the result before reading it back. */
export function applyPlan(states: ReadonlyMap<ModelVersion, ModelState>, plan: TransitionPlan): Map<ModelVersion, ModelState> {
  const next = new Map(states);
  for (const c of plan.changes) next.set(c.version, c.transition.to);
  return next;
}

/** The versions in production in `states`: the invariant says at most one. */
export function productionVersions(states: ReadonlyMap<ModelVersion, ModelState>): ModelVersion[] {
  return [...states].filter(([, s]) => s === 'production').map(([v]) => v);
}
