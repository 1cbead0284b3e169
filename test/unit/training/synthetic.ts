// Small seeded problems for the trainer's tests.
import { Rng } from '../../../lib/core/generator/prng';
import type { TrainingMatrix } from '../../../lib/core/training';

export const FEATURES = 6;

/**
 * A nonlinear problem no single split solves: the label depends on sin(2·x0), an interaction
 * x1·x2 and whether x3 is missing; x4 is pure noise with ties, x5 is integer-valued.
 */
export function nonlinear(rows: number, seed: number, noise = 3): TrainingMatrix {
  const rng = new Rng(seed);
  const f = FEATURES;
  const x = new Float32Array(rows * f);
  const label = new Uint8Array(rows);
  const eventTime = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const a = rng.normal();
    const b = rng.normal();
    const c = rng.normal();
    const missing = rng.chance(0.15);
    const row = [a, b, c, missing ? NaN : rng.normal(), Math.round(rng.normal() * 4) / 4, rng.int(7)];
    x.set(row, r * f);
    const z = 2 * Math.sin(2 * a) + 1.5 * b * c + (missing ? 1.5 : 0) - 1.8;
    label[r] = rng.next() < 1 / (1 + Math.exp(-noise * z)) ? 1 : 0;
    eventTime[r] = 1_700_000_000_000 + r * 1000;
  }
  return { features: Array.from({ length: f }, (_, j) => `x${j}`), rows, x, label, eventTime };
}

/** Rows of a matrix as float32 vectors, for `leafOf` and `predictMargin`. */
export function rowOf(m: TrainingMatrix, r: number): Float32Array {
  const f = m.features.length;
  return m.x.subarray(r * f, (r + 1) * f);
}
