import { describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../../../lib/core/errors';
import { rocAuc } from '../../../lib/core/metrics';
import { leafOf, predictMargin, predictProbability, type TreeEnsemble } from '../../../lib/core/models/tree-ensemble';
import { FLOAT32_MAX, train, trainAsync, type TrainCheckpoint, type TrainingMatrix, type TrainParamsInput, type TrainResult } from '../../../lib/core/training';
import { nonlinear, rowOf } from './synthetic';

const scores = (model: TreeEnsemble, m: TrainingMatrix) => Array.from({ length: m.rows }, (_, r) => predictProbability(model, rowOf(m, r)));

/** Bit-level identity of everything a model holds (JSON cannot tell −0 from 0; this can). */
function bits(model: TreeEnsemble): string {
  const numbers: number[] = [model.featureCount, model.baseMargin];
  for (const t of model.trees) numbers.push(...t.feature, ...t.threshold, ...t.left, ...t.right, ...t.missingLeft, ...t.value, ...t.cover);
  return Buffer.from(Float64Array.from(numbers).buffer).toString('hex');
}

/** A run that early-stops after a few dozen trees: noisy labels, a high learning rate. */
const NOISY = { train: nonlinear(3000, 11, 0.7), validation: nonlinear(1500, 12, 0.7) };
const NOISY_PARAMS: TrainParamsInput = { trees: 200, learningRate: 0.3, earlyStoppingRounds: 6, checkpointEvery: 1, seed: 9 };

describe('gbdt trainer', () => {
  it('learns a nonlinear problem', () => {
    const data = { train: nonlinear(8000, 1), validation: nonlinear(2000, 2) };
    const { model, bestIteration } = train(data, { trees: 80, learningRate: 0.2, checkpointEvery: 0 });
    expect(bestIteration).toBeGreaterThan(10);
    const holdout = nonlinear(3000, 3);
    expect(rocAuc(scores(model, holdout), holdout.label)).toBeGreaterThan(0.9);
    // A stump model (one split per tree, no interaction) cannot get there on the same data.
    const stumps = train(data, { trees: 80, learningRate: 0.2, maxDepth: 1, checkpointEvery: 0 }).model;
    expect(rocAuc(scores(stumps, holdout), holdout.label)).toBeLessThan(rocAuc(scores(model, holdout), holdout.label) - 0.02);
  });

  it('gives the same model, bit for bit, for the same data, params and seed', () => {
    const data = { train: nonlinear(3000, 4), validation: nonlinear(1000, 5) };
    const params = { trees: 25, seed: 123, checkpointEvery: 0 };
    const a = train(data, params);
    const b = train(data, params);
    expect(b).toEqual(a);
    expect(bits(b.model)).toBe(bits(a.model));
    expect(bits(train(data, { ...params, seed: 124 }).model)).not.toBe(bits(a.model));
  });

  it('early-stops on validation loss and keeps the best iteration', () => {
    const r = train(NOISY, { ...NOISY_PARAMS, checkpointEvery: 0 });
    expect(r.stopReason).toBe('early_stopped');
    expect(r.treesBuilt).toBe(r.bestIteration + 6);
    expect(r.model.trees).toHaveLength(r.bestIteration);
    expect(r.history).toHaveLength(r.treesBuilt);
    const losses = r.history.map((h) => h.validLoss!);
    expect(Math.min(...losses)).toBe(r.bestValidLoss);
    expect(losses.indexOf(r.bestValidLoss!)).toBe(r.bestIteration - 1);
    // The recorded loss is the exported model's own: recompute it with predictMargin.
    const v = NOISY.validation;
    let loss = 0;
    for (let i = 0; i < v.rows; i++) {
      const m = predictMargin(r.model, rowOf(v, i));
      loss += v.label[i] === 1 ? Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
    }
    expect(loss / v.rows).toBeCloseTo(r.bestValidLoss!, 12);
    // Without patience every tree is kept, though validation loss got worse.
    const all = train(NOISY, { ...NOISY_PARAMS, trees: r.treesBuilt, earlyStoppingRounds: 0, checkpointEvery: 0 });
    expect(all.stopReason).toBe('completed');
    expect(all.model.trees).toHaveLength(r.treesBuilt);
    expect(all.model.trees.slice(0, r.bestIteration)).toEqual(r.model.trees);
    expect(all.bestValidLoss).toBe(all.history.at(-1)!.validLoss);
  });

  it('resumes from a JSON checkpoint mid-patience to exactly the uninterrupted model', () => {
    const checkpoints: TrainCheckpoint[] = [];
    const full = train(NOISY, NOISY_PARAMS, { onCheckpoint: (c) => checkpoints.push(c) });
    expect(full.stopReason).toBe('early_stopped');
    expect(checkpoints).toHaveLength(full.treesBuilt);
    // One checkpoint halfway through the final patience (past the best tree), one before it.
    const midPatience = checkpoints[full.bestIteration + 2]!;
    expect(midPatience.roundsSinceBest).toBe(3);
    const early = checkpoints[Math.floor(full.bestIteration / 2)]!;
    for (const c of [midPatience, early]) {
      const json = JSON.parse(JSON.stringify(c)) as unknown;
      const resumed = train(NOISY, NOISY_PARAMS, { resumeFrom: json });
      expect(resumed).toEqual(full);
      expect(bits(resumed.model)).toBe(bits(full.model));
    }
  });

  it('stops when asked, with a checkpoint that resumes to the same model', () => {
    const params = { ...NOISY_PARAMS, checkpointEvery: 7 };
    const full = train(NOISY, params);
    let saved: TrainCheckpoint | undefined;
    let built = 0;
    const stopped = train(NOISY, params, { onCheckpoint: (c) => (saved = c), onProgress: () => built++, shouldStop: () => built === 10 });
    expect(stopped.stopReason).toBe('interrupted');
    expect(stopped.treesBuilt).toBe(10);
    expect(saved!.trees).toHaveLength(10);
    const resumed = train(NOISY, params, { resumeFrom: JSON.parse(JSON.stringify(saved)) });
    expect(resumed).toEqual(full);
  });

  it('trains the same model asynchronously, yielding between trees', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const params = { ...NOISY_PARAMS, checkpointEvery: 0 };
    const resultAsync = await trainAsync(NOISY, params);
    clearInterval(timer);
    expect(resultAsync).toEqual(train(NOISY, params));
    expect(ticks).toBeGreaterThan(0);
  });

  it('refuses a checkpoint from other data or other params', () => {
    let saved: TrainCheckpoint | undefined;
    const params = { ...NOISY_PARAMS, trees: 5, checkpointEvery: 5 };
    train(NOISY, params, { onCheckpoint: (c) => (saved = c) });
    const other = { ...NOISY, train: nonlinear(3000, 99, 0.7) };
    expect(() => train(other, params, { resumeFrom: saved })).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'resumeFrom.data' }));
    expect(() => train(NOISY, { ...params, l2: 3 }, { resumeFrom: saved })).toThrow(ConfigError);
    expect(() => train(NOISY, params, { resumeFrom: { ...saved, trees: 'x' } })).toThrow(ValidationError);
    // Only the checkpoint cadence may differ.
    expect(() => train(NOISY, { ...params, checkpointEvery: 2 }, { resumeFrom: saved })).not.toThrow();
  });

  it('routes every training row at training time exactly as leafOf routes its float32 row', () => {
    // Awkward columns: NaN-driven labels, ties, ±0, infinities, a constant and an all-NaN column.
    const base = nonlinear(4000, 21);
    const f = base.features.length + 2;
    const x = new Float32Array(base.rows * f);
    const specials = [NaN, -0, 0, Infinity, -Infinity, FLOAT32_MAX, 1e-45];
    for (let r = 0; r < base.rows; r++) {
      x.set(rowOf(base, r), r * f);
      if (r % 13 === 0) x[r * f + 4] = specials[(r / 13) % specials.length]!;
      x[r * f + 6] = 5;
      x[r * f + 7] = NaN;
    }
    const m: TrainingMatrix = { ...base, features: [...base.features, 'const', 'nan'], x };
    let checked = 0;
    const result = train({ train: m }, { trees: 15, maxBins: 16, rowSubsample: 0.7, colSubsample: 1, minChildWeight: 0.1, checkpointEvery: 0 }, {
      onTree: ({ tree, trainLeaves }) => {
        for (let r = 0; r < m.rows; r++) {
          if (leafOf(tree, rowOf(m, r)) !== trainLeaves[r]) throw new Error(`row ${r}: training leaf ${trainLeaves[r]} ≠ leafOf ${leafOf(tree, rowOf(m, r))}`);
          checked++;
        }
      },
    });
    expect(checked).toBe(15 * m.rows);
    // The NaN-only split (threshold −FLT_MAX) and ordinary splits on x3 were both exercised.
    const x3 = result.model.trees.flatMap((t) => t.feature.map((feat, n) => (feat === 3 ? t.threshold[n]! : undefined))).filter((v) => v !== undefined);
    expect(x3).toContain(-FLOAT32_MAX);
    expect(x3.some((t) => t !== -FLOAT32_MAX)).toBe(true);
  });

  it('fills float32 leaves, cover-weighted internal values and hessian covers', () => {
    const { model } = train({ train: nonlinear(3000, 31) }, { trees: 10, checkpointEvery: 0 });
    expect(Math.fround(model.baseMargin)).toBe(model.baseMargin);
    for (const t of model.trees) {
      t.feature.forEach((feat, n) => {
        expect(Number.isFinite(t.threshold[n]!) && Number.isFinite(t.value[n]!) && t.cover[n]! > 0).toBe(true);
        if (feat < 0) {
          expect(Math.fround(t.value[n]!)).toBe(t.value[n]);
          return;
        }
        expect(Math.fround(t.threshold[n]!)).toBe(t.threshold[n]);
        const [l, r] = [t.left[n]!, t.right[n]!];
        expect(t.cover[n]).toBeCloseTo(t.cover[l]! + t.cover[r]!, 9);
        expect(t.value[n]).toBeCloseTo((t.cover[l]! * t.value[l]! + t.cover[r]! * t.value[r]!) / t.cover[n]!, 12);
      });
      expect(t.feature.filter((feat) => feat < 0).length).toBeLessThanOrEqual(31);
    }
  });

  it('weights positives as asked', () => {
    const data = { train: nonlinear(3000, 41) };
    const params = { trees: 20, checkpointEvery: 0 };
    const plain = train(data, params);
    const heavy = train(data, { ...params, positiveWeight: 10 });
    const balanced = train(data, { ...params, positiveWeight: 'balanced' });
    const positives = data.train.label.reduce((a, b) => a + b, 0);
    const negatives = data.train.rows - positives;
    expect(plain.model.baseMargin).toBe(Math.fround(Math.log(positives / negatives)));
    expect(heavy.model.baseMargin).toBe(Math.fround(Math.log((10 * positives) / negatives)));
    expect(balanced.positiveWeight).toBeCloseTo(negatives / positives, 12);
    expect(balanced.model.baseMargin).toBeCloseTo(0, 6);
    const mean = (r: TrainResult) => scores(r.model, data.train).reduce((a, b) => a + b, 0) / data.train.rows;
    // Weighting positives ×10 moves predicted probabilities up, towards 10P / (10P + N).
    expect(mean(plain)).toBeCloseTo(positives / data.train.rows, 1);
    expect(mean(heavy)).toBeGreaterThan(mean(plain) + 0.1);
    expect(bits(heavy.model)).not.toBe(bits(plain.model));
  });

  it('refuses unusable data, naming the field', () => {
    const m = nonlinear(200, 51);
    expect(() => train({ train: { ...m, label: new Uint8Array(m.rows) } })).toThrow(expect.objectContaining({ field: 'train.label' }));
    expect(() => train({ train: { ...m, x: m.x.subarray(1) } })).toThrow(expect.objectContaining({ field: 'train.x' }));
    expect(() => train({ train: m, validation: { ...m, features: ['a', 'b', 'c', 'd', 'e', 'f'] } })).toThrow(expect.objectContaining({ field: 'validation.features' }));
  });
});
