// Reading a training-set directory back for training: the manifest (checked), then each split
// file, refused unless its sha256 is the one the manifest records, so a model can only name data
// it was really trained on.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../../core/errors';
import { parseTrainingSetManifest, SPLITS, TRAINING_SET_MANIFEST_FILE, type SplitName, type TrainingSetManifest } from '../../core/training-set';
import type { TrainingMatrix } from '../../core/training/matrix';
import { readTrainingRows } from '../training-rows-file';
import { fileSha256 } from './hash';

export interface TrainingSetData {
  readonly dir: string;
  readonly manifest: TrainingSetManifest;
  /** sha256 of manifest.json's bytes. */
  readonly manifestSha256: string;
  readonly splits: Readonly<Record<SplitName, TrainingMatrix>>;
}

/** Whether a path is a training-set directory (a directory with manifest.json), not a rows file. */
export async function isTrainingSetDir(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  return (await stat(join(path, TRAINING_SET_MANIFEST_FILE)).catch(() => undefined))?.isFile() === true;
}

const emptyMatrix = (features: readonly string[]): TrainingMatrix => ({
  features,
  rows: 0,
  x: new Float32Array(0),
  label: new Uint8Array(0),
  eventTime: new Float64Array(0),
  eventIds: [],
});

export interface ReadTrainingSetOptions {
  readonly onProgress?: (split: SplitName, rows: number) => void;
}

/** Reads and verifies a training-set directory; ValidationError naming `data.<what>` on any mismatch. */
export async function readTrainingSet(dir: string, options: ReadTrainingSetOptions = {}): Promise<TrainingSetData> {
  const manifestPath = join(dir, TRAINING_SET_MANIFEST_FILE);
  const bytes = await readFile(manifestPath).catch((error: NodeJS.ErrnoException) => {
    throw new ValidationError(`${manifestPath}: ${error.code === 'ENOENT' ? 'no such file (not a training-set directory)' : error.message}`, 'data');
  });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ValidationError(`${manifestPath}: not valid JSON (${(error as Error).message})`, 'data.manifest');
  }
  const manifest = parseTrainingSetManifest(json, 'data.manifest');
  const manifestSha256 = createHash('sha256').update(bytes).digest('hex');
  const splits = {} as Record<SplitName, TrainingMatrix>;
  for (const name of SPLITS) {
    const entry = manifest.splits[name];
    const path = join(dir, entry.file);
    const actual = await fileSha256(path).catch((error: NodeJS.ErrnoException) => {
      throw new ValidationError(`${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`, `data.${name}`);
    });
    if (actual !== entry.sha256) {
      throw new ValidationError(`${path}: sha256 ${actual} differs from the manifest's ${entry.sha256}; the set was changed after it was built`, `data.${name}`);
    }
    if (entry.rows === 0) {
      splits[name] = emptyMatrix(manifest.features);
      continue;
    }
    const m = await readTrainingRows(path, { features: manifest.features, onProgress: (rows) => options.onProgress?.(name, rows) });
    if (m.rows !== entry.rows) throw new ValidationError(`${path}: ${m.rows} rows, the manifest says ${entry.rows}`, `data.${name}`);
    options.onProgress?.(name, m.rows);
    splits[name] = m;
  }
  return { dir, manifest, manifestSha256, splits };
}
