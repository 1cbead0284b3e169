import { describe, expect, it } from 'vitest';
import { ResourceError, TransitionError, ValidationError } from '../../../lib/core/errors';
import type { ModelName, ModelVersion } from '../../../lib/core/models/manifest';
import { MODEL_STATES, type ModelState } from '../../../lib/core/models/ports';
import {
  ALLOWED_TRANSITIONS,
  applyPlan,
  EMPTY_POINTER,
  MAX_PRODUCTION_HISTORY,
  planPromotion,
  planRollback,
  productionVersions,
  registrationTransition,
  type LifecycleView,
  type ProductionPointer,
  type TransitionPlan,
} from '../../../lib/core/registry/lifecycle';

const name = 'fraud' as ModelName;
const v = (s: string) => s as ModelVersion;
const request = { actor: 'ana', reason: 'better recall', at: '2026-02-01T10:00:00.000Z' };

function view(states: Record<string, ModelState>, pointer: Partial<ProductionPointer> = {}): LifecycleView {
  const production = Object.entries(states).find(([, s]) => s === 'production')?.[0];
  return {
    name,
    states: new Map(Object.entries(states).map(([k, s]) => [v(k), s])),
    pointer: { ...EMPTY_POINTER, production: production === undefined ? undefined : v(production), ...pointer },
  };
}

/** Applies a plan to a view, as the registry does once the plan is committed. */
const next = (before: LifecycleView, plan: TransitionPlan): LifecycleView => ({ name, states: applyPlan(before.states, plan), pointer: plan.pointer });

function transitionError(fn: () => unknown): TransitionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TransitionError) return error;
    throw error;
  }
  throw new Error('no TransitionError');
}

describe('lifecycle policy', () => {
  it('allows exactly the documented transitions', () => {
    const allowed = MODEL_STATES.flatMap((from) => ALLOWED_TRANSITIONS[from].map((to) => `${from}→${to}`));
    expect(allowed.sort()).toEqual(
      [
        'candidate→staging',
        'candidate→archived',
        'staging→canary',
        'staging→production',
        'staging→archived',
        'canary→production',
        'canary→staging',
        'canary→archived',
        'production→archived',
      ].sort(),
    );
  });

  it.each([
    ['candidate', 'production'],
    ['candidate', 'canary'],
    ['archived', 'staging'],
    ['archived', 'production'],
    ['production', 'staging'],
    ['production', 'canary'],
    ['staging', 'candidate'],
  ] as const)('refuses %s → %s with an error naming the version and both states', (from, to) => {
    const error = transitionError(() => planPromotion(view({ '3': from }), v('3'), to, request));
    expect(error).toMatchObject({ model: 'fraud', version: '3', from, to, code: 'transition_error' });
    expect(error.message).toContain('version 3');
    expect(error.message).toContain(`${from} → ${to}`);
  });

  it('refuses a move to the state the version is in', () => {
    expect(transitionError(() => planPromotion(view({ '1': 'staging' }), v('1'), 'staging', request)).message).toMatch(/already staging/);
  });

  it('names an unknown version as a missing resource', () => {
    expect(() => planPromotion(view({ '1': 'staging' }), v('9'), 'canary', request)).toThrow(ResourceError);
    expect(() => planPromotion(view({ '1': 'staging' }), v('9'), 'canary', request)).toThrow(/model fraud has no version 9/);
  });

  it.each([
    [{ ...request, actor: '  ' }, 'actor'],
    [{ ...request, reason: '' }, 'reason'],
    [{ ...request, reason: 'x'.repeat(1001) }, 'reason'],
    [{ ...request, at: 'yesterday' }, 'at'],
  ])('requires who, why and when (%#)', (bad, field) => {
    const error = (() => {
      try {
        planPromotion(view({ '1': 'candidate' }), v('1'), 'staging', bad);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });

  it('records every change with from, to, actor, reason and time, trimmed', () => {
    const plan = planPromotion(view({ '1': 'candidate' }), v('1'), 'staging', { ...request, actor: ' ana ', reason: ' passed offline eval ' });
    expect(plan.changes).toEqual([
      { version: '1', transition: { from: 'candidate', to: 'staging', actor: 'ana', reason: 'passed offline eval', at: request.at } },
    ]);
    expect(plan.pointer).toEqual({ ...EMPTY_POINTER, revision: 1 });
    expect(registrationTransition(request)).toEqual({ from: null, to: 'candidate', ...request });
  });

  it('promoting to production archives the current production version first and remembers it', () => {
    const before = view({ '1': 'production', '2': 'canary' }, { revision: 7, history: [v('0')] });
    const plan = planPromotion(before, v('2'), 'production', request);
    expect(plan.changes.map((c) => `${c.version}:${c.transition.from}→${c.transition.to}`)).toEqual(['1:production→archived', '2:canary→production']);
    expect(plan.pointer).toEqual({ production: '2', revision: 8, history: ['0', '1'] });
    expect(productionVersions(applyPlan(before.states, plan))).toEqual(['2']);
  });

  it('allows skipping the canary (staging → production) and first promotions with no incumbent', () => {
    const plan = planPromotion(view({ '1': 'staging' }), v('1'), 'production', request);
    expect(plan.changes).toHaveLength(1);
    expect(plan.pointer).toEqual({ production: '1', revision: 1, history: [] });
  });

  it('retiring the production version leaves none serving and makes it the rollback target', () => {
    const plan = planPromotion(view({ '1': 'production' }, { revision: 3 }), v('1'), 'archived', request);
    expect(plan.pointer).toEqual({ production: undefined, revision: 4, history: ['1'] });
  });

  it('keeps exactly one production version through any sequence of promotions and rollbacks', () => {
    let state = view({ '1': 'staging', '2': 'staging', '3': 'staging', '4': 'staging' });
    const steps: Array<(s: LifecycleView) => TransitionPlan> = [
      (s) => planPromotion(s, v('1'), 'production', request),
      (s) => planPromotion(s, v('2'), 'canary', request),
      (s) => planPromotion(s, v('2'), 'production', request),
      (s) => planPromotion(s, v('3'), 'production', request),
      (s) => planRollback(s, request),
      (s) => planPromotion(s, v('4'), 'production', request),
      (s) => planRollback(s, request),
      (s) => planRollback(s, request),
    ];
    const serving: Array<string | undefined> = [];
    for (const step of steps) {
      state = next(state, step(state));
      expect(productionVersions(state.states)).toEqual([state.pointer.production]);
      serving.push(state.pointer.production);
    }
    // A rollback pops the history: after 4 → 2 the next one goes to 1, not back to 4.
    expect(serving).toEqual(['1', '1', '2', '3', '2', '4', '2', '1']);
  });

  it('rollback restores the version that was production before the current one', () => {
    const before = view({ '1': 'archived', '2': 'archived', '3': 'production' }, { revision: 5, history: [v('1'), v('2')] });
    const plan = planRollback(before, request);
    expect(plan.changes.map((c) => `${c.version}:${c.transition.from}→${c.transition.to}`)).toEqual(['3:production→archived', '2:archived→production']);
    expect(plan.pointer).toEqual({ production: '2', revision: 6, history: ['1'] });
    // A second rollback goes one further back instead of undoing the first.
    const again = planRollback(next(before, plan), request);
    expect(again.pointer).toEqual({ production: '1', revision: 7, history: [] });
  });

  it('rollback with nothing earlier, or onto a version that is not archived, is refused', () => {
    expect(transitionError(() => planRollback(view({ '1': 'production' }), request)).message).toMatch(/no earlier production version/);
    const error = transitionError(() => planRollback(view({ '1': 'staging', '2': 'production' }, { history: [v('1')] }), request));
    expect(error).toMatchObject({ version: '1', from: 'staging', to: 'production' });
  });

  it('rollback after a retirement restores the retired version', () => {
    const before = view({ '1': 'archived' }, { production: undefined, revision: 2, history: [v('1')] });
    const plan = planRollback(before, request);
    expect(plan.changes.map((c) => c.version)).toEqual(['1']);
    expect(plan.pointer.production).toBe('1');
  });

  it('bounds the history the pointer keeps', () => {
    let state = view(Object.fromEntries(Array.from({ length: MAX_PRODUCTION_HISTORY + 5 }, (_, i) => [String(i), 'staging' as ModelState])));
    for (let i = 0; i < MAX_PRODUCTION_HISTORY + 5; i++) state = next(state, planPromotion(state, v(String(i)), 'production', request));
    expect(state.pointer.history).toHaveLength(MAX_PRODUCTION_HISTORY);
    expect(state.pointer.history.at(-1)).toBe(String(MAX_PRODUCTION_HISTORY + 3));
  });
});
