import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors';
import { parseInstant, parseTrainingSetParams } from '../../../lib/core/training-set';

describe('training-set parameters', () => {
  it('reads dates as midnight UTC and writes instants in one canonical form', () => {
    expect(parseInstant('from', '2026-01-31')).toEqual({ micros: 1_769_817_600_000_000n, iso: '2026-01-31T00:00:00.000Z' });
    expect(parseInstant('cutoff', '2026-01-31T12:00:00Z').iso).toBe('2026-01-31T12:00:00.000Z');
    expect(parseInstant('cutoff', '2026-01-31T12:00:00.000001Z').iso).toBe('2026-01-31T12:00:00.000001Z');
    const p = parseTrainingSetParams({ from: '2026-01-01', to: '2026-01-31T00:00:00.000Z', cutoff: '2026-02-15' });
    expect([p.from.iso, p.to.iso, p.cutoff.iso, p.validation, p.holdout, p.featureSet]).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-31T00:00:00.000Z',
      '2026-02-15T00:00:00.000Z',
      0.15,
      0.15,
      undefined,
    ]);
  });

  it('names the field at fault', () => {
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).field;
      }
      return undefined;
    };
    const ok = { from: '2026-01-01', to: '2026-01-02', cutoff: '2026-01-03' };
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, from: '2026-02-30' }))).toBe('from');
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, cutoff: 'yesterday' }))).toBe('cutoff');
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, to: '2026-01-01' }))).toBe('to');
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, featureSet: 'card_fraud' }))).toBe('featureSet');
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, validation: 1 }))).toBe('validation');
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, validation: 0.5, holdout: 0.5 }))).toBe('holdout');
    expect(fieldOf(() => parseTrainingSetParams({ ...ok, from: '2026-01-01T00:00:00+01:00' }))).toBe('from');
  });
});
