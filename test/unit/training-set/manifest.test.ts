import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lib/core/errors';
import { parseTrainingSetManifest, renderTrainingSetManifest, trainingSetId, type TrainingSetManifest } from '../../../lib/core/training-set';

const split = (file: string, rows: number, positives: number) => ({
  file,
  rows,
  positives,
  first_event_time: rows ? '2026-01-01T00:00:00.000Z' : null,
  last_event_time: rows ? '2026-01-02T00:00:00.000Z' : null,
  bytes: 100,
  sha256: 'a'.repeat(64),
});
const manifest: TrainingSetManifest = {
  format: 'fathom.training-set/v1',
  id: trainingSetId(12, 34),
  feature_set: 'card_fraud.v1',
  features: ['f1', 'f2'],
  params: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-08T00:00:00.000Z', cutoff: '2026-02-01T00:00:00.000Z', validation: 0.15, holdout: 0.15 },
  sources: {
    feature_log: { table: 'fathom_offline.feature_log', snapshot_id: 12, sequence_number: 3, committed_at: '2026-01-10T00:00:00.000Z', data_files: 4 },
    labels: { table: 'fathom_offline.labels', snapshot_id: 34, sequence_number: 2, committed_at: '2026-01-10T00:00:00.000Z', data_files: 2 },
  },
  counts: {
    feature_log_rows: 12,
    other_feature_sets: {},
    duplicate_rows: 1,
    conflicting_duplicates: 0,
    events: 11,
    unlabeled: 1,
    labeled_only_after_cutoff: 1,
    label_rows_after_cutoff: 1,
    conflicting_labels: 0,
    rows: 10,
    positives: 2,
  },
  conflict_examples: [],
  splits: { train: split('train.parquet', 7, 1), validation: split('validation.parquet', 1, 0), holdout: split('holdout.parquet', 2, 1) },
};

describe('training-set manifest', () => {
  it('names the snapshots it was built from and round-trips through its JSON', () => {
    expect(manifest.id).toBe('feature_log@12,labels@34');
    expect(parseTrainingSetManifest(JSON.parse(renderTrainingSetManifest(manifest)))).toEqual(manifest);
    expect(renderTrainingSetManifest(manifest).endsWith('}\n')).toBe(true);
  });

  it('refuses a manifest whose parts disagree, naming the field', () => {
    const field = (m: unknown) => {
      try {
        parseTrainingSetManifest(m);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).field;
      }
      return undefined;
    };
    expect(field({ ...manifest, id: trainingSetId(12, 35) })).toBe('manifest.id');
    expect(field({ ...manifest, counts: { ...manifest.counts, rows: 11 } })).toBe('manifest.splits');
    expect(field({ ...manifest, splits: { ...manifest.splits, train: { ...manifest.splits.train, file: '../x.parquet' } } })).toBe('manifest.splits.train.file');
    expect(field({ ...manifest, splits: { ...manifest.splits, train: { ...manifest.splits.train, sha256: 'nope' } } })).toBe('manifest.splits.train.sha256');
    expect(field({ ...manifest, format: 'other' })).toBe('manifest.format');
  });
});
