// manifest.json of a training-set directory: what the set was built from (each table at one
// snapshot), with which parameters, what the point-in-time rules kept and dropped, and each split
// file's rows, positives and sha256. It holds no build time or machine path, so the same snapshots
// and parameters give the same manifest bytes, and its sha256 names the whole set.
import { z } from 'zod';
import { ValidationError } from '../errors';
import { toValidationError } from '../schemas/event';
import type { PointInTimeCounts } from './point-in-time';
import { SPLITS, type SplitName } from './split';

export const TRAINING_SET_FORMAT = 'fathom.training-set/v1';
export const TRAINING_SET_MANIFEST_FILE = 'manifest.json';
export const SPLIT_FILES: Readonly<Record<SplitName, string>> = { train: 'train.parquet', validation: 'validation.parquet', holdout: 'holdout.parquet' };

const count = z.number().int().nonnegative();
const iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/, 'must be an ISO 8601 UTC timestamp');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

const SourceSchema = z.strictObject({
  /** `<database>.<table>`. */
  table: z.string().min(1),
  snapshot_id: z.number().int(),
  sequence_number: count,
  /** When the snapshot was committed. */
  committed_at: iso,
  data_files: count,
});
export type TrainingSetSource = z.infer<typeof SourceSchema>;

const SplitSchema = z.strictObject({
  file: z.string().min(1),
  rows: count,
  positives: count,
  /** Event time of the first and last row; null for an empty split. */
  first_event_time: iso.nullable(),
  last_event_time: iso.nullable(),
  bytes: count,
  sha256,
});
export type TrainingSetSplit = z.infer<typeof SplitSchema>;

export const TrainingSetManifestSchema = z.strictObject({
  format: z.literal(TRAINING_SET_FORMAT),
  /** `feature_log@<snapshot id>,labels@<snapshot id>`: the exact table states read. */
  id: z.string().min(1),
  feature_set: z.string().min(1),
  features: z.array(z.string().min(1)).min(1),
  params: z.strictObject({
    from: iso,
    to: iso,
    cutoff: iso,
    validation: z.number().min(0).lt(1),
    holdout: z.number().min(0).lt(1),
  }),
  sources: z.strictObject({ feature_log: SourceSchema, labels: SourceSchema }),
  counts: z.strictObject({
    feature_log_rows: count,
    other_feature_sets: z.record(z.string(), count),
    duplicate_rows: count,
    conflicting_duplicates: count,
    events: count,
    unlabeled: count,
    labeled_only_after_cutoff: count,
    label_rows_after_cutoff: count,
    conflicting_labels: count,
    rows: count,
    positives: count,
  }),
  /** Some event ids whose repeated feature_log rows disagree (see counts.conflicting_duplicates). */
  conflict_examples: z.array(z.string()),
  splits: z.strictObject({ train: SplitSchema, validation: SplitSchema, holdout: SplitSchema }),
});
export type TrainingSetManifest = z.infer<typeof TrainingSetManifestSchema>;

// The inferred counts type and the rules' counts type must stay one shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const countsMatch: Same<TrainingSetManifest['counts'], PointInTimeCounts> = true;
void countsMatch;

export const trainingSetId = (featureLogSnapshot: number, labelsSnapshot: number): string => `feature_log@${featureLogSnapshot},labels@${labelsSnapshot}`;

/** Checks a manifest read back from JSON; the ValidationError names `manifest.<field>`. */
export function parseTrainingSetManifest(input: unknown, where = 'manifest'): TrainingSetManifest {
  const r = TrainingSetManifestSchema.safeParse(input);
  if (!r.success) throw toValidationError(r.error, where);
  const m = r.data;
  if (m.id !== trainingSetId(m.sources.feature_log.snapshot_id, m.sources.labels.snapshot_id)) {
    throw new ValidationError(`${where}.id: ${m.id} does not name the snapshots in sources`, `${where}.id`);
  }
  let rows = 0;
  let positives = 0;
  for (const name of SPLITS) {
    const s = m.splits[name];
    if (s.file !== SPLIT_FILES[name]) throw new ValidationError(`${where}.splits.${name}.file: expected ${SPLIT_FILES[name]}`, `${where}.splits.${name}.file`);
    if (s.positives > s.rows) throw new ValidationError(`${where}.splits.${name}.positives: more than its rows`, `${where}.splits.${name}.positives`);
    rows += s.rows;
    positives += s.positives;
  }
  if (rows !== m.counts.rows || positives !== m.counts.positives) {
    throw new ValidationError(`${where}.splits: rows and positives of the splits do not add up to counts`, `${where}.splits`);
  }
  return m;
}

/** The manifest's bytes as written: keys in construction order, two-space indent, final newline. */
export const renderTrainingSetManifest = (m: TrainingSetManifest): string => `${JSON.stringify(m, null, 2)}\n`;
