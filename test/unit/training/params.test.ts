import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/core/errors';
import { parseTrainParams, train } from '../../../lib/core/training';
import { nonlinear } from './synthetic';

describe('training parameters', () => {
  it('fills the documented defaults', () => {
    expect(parseTrainParams({})).toEqual({
      trees: 400,
      maxDepth: 6,
      maxLeaves: 31,
      learningRate: 0.1,
      l2: 1,
      minChildWeight: 1,
      minSplitGain: 0,
      rowSubsample: 0.8,
      colSubsample: 0.8,
      maxBins: 255,
      positiveWeight: 1,
      earlyStoppingRounds: 30,
      seed: 42,
      checkpointEvery: 50,
    });
    expect(parseTrainParams({ positiveWeight: 'balanced' }).positiveWeight).toBe('balanced');
  });

  it.each([
    [{ learningRate: 0 }, 'learningRate'],
    [{ learningRate: 1.5 }, 'learningRate'],
    [{ trees: 2.5 }, 'trees'],
    [{ maxDepth: 0 }, 'maxDepth'],
    [{ maxLeaves: 1 }, 'maxLeaves'],
    [{ maxBins: 256 }, 'maxBins'],
    [{ rowSubsample: 0 }, 'rowSubsample'],
    [{ colSubsample: 1.01 }, 'colSubsample'],
    [{ l2: -1 }, 'l2'],
    [{ minChildWeight: Number.NaN }, 'minChildWeight'],
    [{ positiveWeight: -2 }, 'positiveWeight'],
    [{ positiveWeight: 'auto' }, 'positiveWeight'],
    [{ earlyStoppingRounds: -1 }, 'earlyStoppingRounds'],
    [{ seed: 2 ** 32 }, 'seed'],
    [{ checkpointEvery: 0.5 }, 'checkpointEvery'],
    [{ treees: 10 }, 'treees'],
  ])('refuses %j, naming %s', (params, field) => {
    let error: unknown;
    try {
      parseTrainParams(params);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
    expect((error as ConfigError).message).toContain(field);
  });

  it('is checked by train before any work', () => {
    expect(() => train({ train: nonlinear(50, 1) }, { maxDepth: 0 })).toThrow(expect.objectContaining({ name: 'ConfigError', field: 'maxDepth' }));
  });
});
