// `npm start` must give a scoring API with no other step, and scoring needs a production model.
// When the local registry has none for the default model, one is trained here from generated
// data (the reference workload through the batch driver: the rows serving would compute), by the
// same training job `fathom train` runs, then registered (signed with the local key) and promoted
// candidate → staging → production by actor `fathom-local` for reason `bootstrap`. A few seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrainingRowWriter, type TrainingRowOut } from '../../adapters/training-rows-file';
import { runTrainingJob } from '../../adapters/training-job';
import type { ModelRegistry } from '../../adapters/registry/model-registry';
import { ResourceError } from '../../core/errors';
import { generateWorkload } from '../../core/generator';
import type { ModelName, ModelVersion } from '../../core/models/manifest';
import { rowsFromWorkload } from '../../core/training';

export const BOOTSTRAP_ACTOR = 'fathom-local';
export const BOOTSTRAP_REASON = 'bootstrap';

export interface BootstrapOptions {
  readonly registry: Pick<ModelRegistry, 'productionVersion' | 'register' | 'promote'>;
  readonly name: ModelName;
  /** Generated events to train on. Default 30,000. */
  readonly events?: number;
  readonly seed?: number;
  /** Trees of the model. Default 80. */
  readonly trees?: number;
  /** Told what is happening: one line per step. */
  readonly progress?: (line: string) => void;
}

export interface BootstrapResult {
  readonly version: ModelVersion;
  /** False when a production version was there already. */
  readonly trained: boolean;
  readonly seconds: number;
}

export async function ensureProductionModel(options: BootstrapOptions): Promise<BootstrapResult> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  const existing = await options.registry.productionVersion(options.name);
  if (existing !== undefined) return { version: existing, trained: false, seconds: seconds() };
  const say = options.progress ?? (() => undefined);
  const events = options.events ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'fathom-bootstrap-'));
  try {
    say(`model ${options.name}: no production version; training one on ${events} generated events`);
    const rowsPath = join(dir, 'training-rows.jsonl');
    const m = rowsFromWorkload(generateWorkload({ seed: options.seed ?? 42, events }));
    const writer = createTrainingRowWriter(rowsPath, m.features, { format: 'jsonl' });
    const f = m.features.length;
    const rows: TrainingRowOut[] = [];
    for (let r = 0; r < m.rows; r++) {
      rows.push({ event_id: m.eventIds![r]!, event_time: new Date(m.eventTime[r]!).toISOString(), label: m.label[r] as 0 | 1, values: m.x.subarray(r * f, (r + 1) * f) });
    }
    await writer.write(rows);
    await writer.close();

    const job = await runTrainingJob({
      dataPath: rowsPath,
      outDir: join(dir, 'package'),
      name: options.name,
      params: { trees: options.trees ?? 80, maxDepth: 5, positiveWeight: 'balanced', checkpointEvery: 0 },
      onProgress: (p) => {
        if (p.phase === 'split') say(`model ${options.name}: training on ${p.train} rows (validation ${p.validation}, holdout ${p.holdout})`);
      },
    });
    if (job.status !== 'completed') throw new ResourceError(`bootstrap training of ${options.name} stopped early`, options.name, false);
    const record = await options.registry.register(job.dir, BOOTSTRAP_ACTOR, BOOTSTRAP_REASON);
    await options.registry.promote(record.name, record.version, 'staging', BOOTSTRAP_ACTOR, BOOTSTRAP_REASON);
    await options.registry.promote(record.name, record.version, 'production', BOOTSTRAP_ACTOR, BOOTSTRAP_REASON);
    say(`model ${options.name}: version ${record.version} registered and promoted to production (holdout ROC AUC ${job.manifest.metrics.holdout.roc_auc.toFixed(3)}, ${seconds()} s)`);
    return { version: record.version, trained: true, seconds: seconds() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
