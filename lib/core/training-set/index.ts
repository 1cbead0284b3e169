// Point-in-time training sets and feature backfills: the rules, split planning and manifest shape.
export { parseInstant, parseTrainingSetParams, type Instant, type TrainingSetParams, type TrainingSetParamsInput } from './params';
export { KNOWN_FEATURE_SETS, featureSetId, resolveFeatureSet } from './feature-sets';
export { planTimeSplit, SPLITS, type SplitName, type SplitPlan } from './split';
export {
  chooseFeatureSet,
  compareCodePoints,
  compareVectors,
  pointInTimeJoin,
  preferRow,
  CONFLICT_EXAMPLES,
  type FeatureLogEntry,
  type LabelEntry,
  type PointInTimeCounts,
  type PointInTimeResult,
  type PointInTimeRules,
  type TrainingSetRow,
} from './point-in-time';
export {
  parseTrainingSetManifest,
  renderTrainingSetManifest,
  trainingSetId,
  SPLIT_FILES,
  TRAINING_SET_FORMAT,
  TRAINING_SET_MANIFEST_FILE,
  TrainingSetManifestSchema,
  type TrainingSetManifest,
  type TrainingSetSource,
  type TrainingSetSplit,
} from './manifest';
export { featureLogRowsOf, planBackfill, type BackfillHistory, type BackfillPlan } from './backfill';
