// Trainer throughput for `npm run bench -- scoring`: rows × trees per second of the reference
// GBDT on generated training rows, beside a baseline in the same run — one pass of the cheapest
// per-row work every boosting round must do (gradient and hessian of the log loss), so a slower
// machine or a busy moment shows in both figures.
import { performance } from 'node:perf_hooks';
import { generateWorkload } from '../../lib/core/generator';
import { rowsFromWorkload, train } from '../../lib/core/training';

export interface TrainerBench {
  readonly rows: number;
  readonly features: number;
  readonly trees: number;
  readonly seconds: number;
  readonly rows_x_trees_per_s: number;
  /** Gradient + hessian passes over the same rows per second: the floor any boosting round pays. */
  readonly baseline_gradient_rows_per_s: number;
}

export function trainerBench(options: { events: number; trees: number; log: (s: string) => void }): TrainerBench {
  options.log(`trainer: ${options.events} events → training rows`);
  const data = rowsFromWorkload(generateWorkload({ seed: 1, events: options.events, days: 30 }));
  options.log(`trainer: ${options.trees} trees on ${data.rows} rows`);
  const t0 = performance.now();
  const result = train({ train: data }, { trees: options.trees, earlyStoppingRounds: 0, seed: 1, checkpointEvery: 0 });
  const seconds = (performance.now() - t0) / 1000;

  const margin = new Float64Array(data.rows);
  const grad = new Float64Array(data.rows);
  const hess = new Float64Array(data.rows);
  const passes = 20;
  const t1 = performance.now();
  for (let p = 0; p < passes; p++) {
    for (let r = 0; r < data.rows; r++) {
      const prob = 1 / (1 + Math.exp(-margin[r]!));
      grad[r] = prob - data.label[r]!;
      hess[r] = prob * (1 - prob);
      margin[r] = margin[r]! + grad[r]! * 1e-9;
    }
  }
  const baselineSeconds = (performance.now() - t1) / 1000;
  return {
    rows: data.rows,
    features: data.features.length,
    trees: result.treesBuilt,
    seconds: Math.round(seconds * 100) / 100,
    rows_x_trees_per_s: Math.round((data.rows * result.treesBuilt) / seconds),
    baseline_gradient_rows_per_s: Math.round((data.rows * passes) / baselineSeconds),
  };
}

/** `npm run bench -- training [--events N] [--trees T]`. */
export async function run(opts: Record<string, string | undefined>): Promise<{ trainer: TrainerBench }> {
  const log = (s: string) => process.stderr.write(`[bench training] ${s}\n`);
  return { trainer: trainerBench({ events: Number(opts['events'] ?? 200_000), trees: Number(opts['trees'] ?? 100), log }) };
}
