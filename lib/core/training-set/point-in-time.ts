// The point-in-time rules of a training set, as plain in-memory code. The DuckDB builder
// (lib/adapters/training-set) implements the same rules in SQL over pinned table snapshots; this
// version is the reference a test holds it to, and the in-process baseline the offline benchmark
// measures it against.
//
// The rules:
// - Rows: feature_log rows with from ≤ event_time < to, of one feature set (never a mix).
// - Duplicates: delivery is at least once, so an event id may be logged more than once. One row
//   per event id is kept: a vector logged on time before a late one (a late vector saw events
//   after its own), then the earliest logged, then a fixed order of the remaining columns so the
//   choice never depends on file order. Event ids whose rows disagree (entity, event time,
//   vector or lateness) are counted and named.
// - Labels: only those with labeled_at ≤ cutoff exist. When an event has several, the latest
//   known at the cutoff wins (a chargeback that overturns an earlier "legitimate" replaces it);
//   at the same labeled_at, 1 wins. A label after the cutoff never reaches the set, even when an
//   earlier one for the same event does.
// - Rows without a label known at the cutoff are dropped and counted.
// - Order: event time, then event id (code-point order, as DuckDB compares strings).
import { ConfigError } from '../errors';

/** A feature_log row with its timestamps as epoch microseconds. */
export interface FeatureLogEntry {
  readonly event_id: string;
  readonly entity_id: string;
  readonly event_time_us: number;
  readonly feature_set: string;
  /** null is a missing value. */
  readonly features: readonly (number | null)[];
  readonly late: boolean;
  readonly logged_at_us: number;
}

export interface LabelEntry {
  readonly event_id: string;
  readonly label: 0 | 1;
  readonly labeled_at_us: number;
}

export interface PointInTimeRules {
  readonly fromUs: number;
  readonly toUs: number;
  readonly cutoffUs: number;
  /** The feature set to use; absent: the only one in range. */
  readonly featureSet?: string;
}

export interface TrainingSetRow {
  readonly event_id: string;
  readonly event_time_us: number;
  readonly label: 0 | 1;
  readonly features: readonly (number | null)[];
}

/** What the rules kept and dropped; the manifest records it. */
export interface PointInTimeCounts {
  /** feature_log rows in range of the chosen feature set, repeats included. */
  readonly feature_log_rows: number;
  /** Rows in range of other feature sets: not used. */
  readonly other_feature_sets: Readonly<Record<string, number>>;
  /** Rows dropped as repeats of an event id already kept. */
  readonly duplicate_rows: number;
  /** Event ids whose repeated rows disagree. */
  readonly conflicting_duplicates: number;
  /** Distinct event ids in range. */
  readonly events: number;
  /** Events without a label known at the cutoff: dropped. */
  readonly unlabeled: number;
  /** Of the unlabeled, events whose only labels came after the cutoff. */
  readonly labeled_only_after_cutoff: number;
  /** Label rows for events in range with labeled_at after the cutoff: ignored. */
  readonly label_rows_after_cutoff: number;
  /** Events of the set whose labels known at the cutoff disagree (the latest won). */
  readonly conflicting_labels: number;
  readonly rows: number;
  readonly positives: number;
}

export interface PointInTimeResult {
  readonly featureSet: string;
  readonly rows: TrainingSetRow[];
  readonly counts: PointInTimeCounts;
  /** Up to CONFLICT_EXAMPLES event ids whose repeated rows disagree, in id order. */
  readonly conflictExamples: string[];
}

export const CONFLICT_EXAMPLES = 10;

/**
 * The feature set to build from, given the row counts per set in range. A request for a set the
 * range does not hold, or no request while it holds several, is a ConfigError naming the sets.
 */
export function chooseFeatureSet(counts: Readonly<Record<string, number>>, requested: string | undefined): string {
  const found = Object.keys(counts).sort();
  const list = found.map((s) => `${s} (${counts[s]} rows)`).join(', ');
  if (requested !== undefined) {
    if (!found.includes(requested)) {
      throw new ConfigError(`featureSet: feature_log holds no ${requested} rows in the range${found.length ? `; it holds ${list}` : ''}`, 'featureSet');
    }
    return requested;
  }
  if (found.length === 0) throw new ConfigError('from: feature_log holds no rows in the range', 'from');
  if (found.length > 1) throw new ConfigError(`featureSet: the range holds several feature sets (${list}); a training set uses one, name it`, 'featureSet');
  return found[0]!;
}

/** Code-point order of two strings (UTF-8 byte order, DuckDB's), not UTF-16 code-unit order. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) encode code points above FFFF: they rank after E000–FFFF.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** Element-wise, null after every number, a prefix first: DuckDB's order of DOUBLE[] values. */
export function compareVectors(a: readonly (number | null)[], b: readonly (number | null)[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return a.length - b.length;
}

/** Which of two rows of one event id is kept: negative keeps `a`. */
export function preferRow(a: FeatureLogEntry, b: FeatureLogEntry): number {
  return (
    Number(a.late) - Number(b.late) ||
    a.logged_at_us - b.logged_at_us ||
    compareCodePoints(a.entity_id, b.entity_id) ||
    a.event_time_us - b.event_time_us ||
    compareVectors(a.features, b.features)
  );
}

const sameContent = (a: FeatureLogEntry, b: FeatureLogEntry): boolean =>
  a.entity_id === b.entity_id && a.event_time_us === b.event_time_us && a.late === b.late && compareVectors(a.features, b.features) === 0;

/** The training-set rows of the inputs under the rules above (in-memory: a Map by event id). */
export function pointInTimeJoin(featureRows: Iterable<FeatureLogEntry>, labelRows: Iterable<LabelEntry>, rules: PointInTimeRules): PointInTimeResult {
  const inRange: FeatureLogEntry[] = [];
  const perSet: Record<string, number> = {};
  for (const r of featureRows) {
    if (r.event_time_us < rules.fromUs || r.event_time_us >= rules.toUs) continue;
    perSet[r.feature_set] = (perSet[r.feature_set] ?? 0) + 1;
    inRange.push(r);
  }
  const featureSet = chooseFeatureSet(perSet, rules.featureSet);
  const kept = new Map<string, FeatureLogEntry>();
  const conflicting = new Set<string>();
  let featureLogRows = 0;
  for (const r of inRange) {
    if (r.feature_set !== featureSet) continue;
    featureLogRows++;
    const seen = kept.get(r.event_id);
    if (!seen) {
      kept.set(r.event_id, r);
      continue;
    }
    if (!sameContent(seen, r)) conflicting.add(r.event_id);
    if (preferRow(r, seen) < 0) kept.set(r.event_id, r);
  }

  interface Known {
    label: 0 | 1;
    at: number;
    both: boolean;
  }
  const known = new Map<string, Known>();
  const afterCutoff = new Map<string, number>();
  for (const l of labelRows) {
    if (!kept.has(l.event_id)) continue;
    if (l.labeled_at_us > rules.cutoffUs) {
      afterCutoff.set(l.event_id, (afterCutoff.get(l.event_id) ?? 0) + 1);
      continue;
    }
    const k = known.get(l.event_id);
    if (!k) known.set(l.event_id, { label: l.label, at: l.labeled_at_us, both: false });
    else {
      if (k.label !== l.label) k.both = true;
      if (l.labeled_at_us > k.at || (l.labeled_at_us === k.at && l.label > k.label)) {
        k.label = l.label;
        k.at = l.labeled_at_us;
      }
    }
  }

  const rows: TrainingSetRow[] = [];
  let unlabeled = 0;
  let onlyAfter = 0;
  let conflictingLabels = 0;
  let positives = 0;
  let labelRowsAfterCutoff = 0;
  for (const n of afterCutoff.values()) labelRowsAfterCutoff += n;
  for (const r of kept.values()) {
    const k = known.get(r.event_id);
    if (!k) {
      unlabeled++;
      if (afterCutoff.has(r.event_id)) onlyAfter++;
      continue;
    }
    if (k.both) conflictingLabels++;
    positives += k.label;
    rows.push({ event_id: r.event_id, event_time_us: r.event_time_us, label: k.label, features: r.features });
  }
  rows.sort((a, b) => a.event_time_us - b.event_time_us || compareCodePoints(a.event_id, b.event_id));
  const others: Record<string, number> = {};
  for (const s of Object.keys(perSet).sort()) if (s !== featureSet) others[s] = perSet[s]!;
  return {
    featureSet,
    rows,
    counts: {
      feature_log_rows: featureLogRows,
      other_feature_sets: others,
      duplicate_rows: featureLogRows - kept.size,
      conflicting_duplicates: conflicting.size,
      events: kept.size,
      unlabeled,
      labeled_only_after_cutoff: onlyAfter,
      label_rows_after_cutoff: labelRowsAfterCutoff,
      conflicting_labels: conflictingLabels,
      rows: rows.length,
      positives,
    },
    conflictExamples: [...conflicting].sort(compareCodePoints).slice(0, CONFLICT_EXAMPLES),
  };
}
