// The feature sets this code can name columns for. A feature_log row carries only `<name>.v<N>`
// and a list of values; the definitions here turn that list back into named columns, so a set
// the code does not define cannot become a training set (its columns would be guesses).
import { ConfigError } from '../errors';
import { referenceFeatureSet, type FeatureSet } from '../features/definitions';

export const featureSetId = (set: FeatureSet): string => `${set.name}.v${set.version}`;

/** Known feature sets by id; the reference workload's today. */
export const KNOWN_FEATURE_SETS: ReadonlyMap<string, FeatureSet> = new Map([[featureSetId(referenceFeatureSet), referenceFeatureSet]]);

/**
 * The definition of a feature set id among `known` (default KNOWN_FEATURE_SETS); a ConfigError
 * naming `field` and the known ids otherwise.
 */
export function resolveFeatureSet(id: string, field: string, known: Iterable<FeatureSet> = KNOWN_FEATURE_SETS.values()): FeatureSet {
  const sets = [...known];
  const found = sets.find((s) => featureSetId(s) === id);
  if (!found) throw new ConfigError(`${field}: feature set ${id} is not defined in this code (known: ${sets.map(featureSetId).join(', ') || 'none'})`, field);
  return found;
}
