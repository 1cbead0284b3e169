// The GBDT trainer and what feeds it: params, binning, time splits, checkpoints, workload rows.
export type { TrainingMatrix } from './matrix';
export { TrainParamsSchema, parseTrainParams, type TrainParams, type TrainParamsInput } from './params';
export { train, trainAsync, GbdtRun, type TrainData, type TrainOptions, type TrainProgress, type TrainResult, type TreeBuilt, type StopReason } from './gbdt';
export { CHECKPOINT_FORMAT, parseCheckpoint, dataFingerprint, type TrainCheckpoint, type TreeLoss } from './checkpoint';
export { splitByTime, DEFAULT_HOLDOUT_FRACTION, DEFAULT_VALIDATION_FRACTION, type TimeSplit, type TimeSplitOptions } from './time-split';
export { computeFeatureBins, binMatrix, binOf, FLOAT32_MAX, MISSING_ONLY_THRESHOLD, type FeatureBins } from './binning';
export { rowsFromWorkload } from './rows-from-workload';
