// Point-in-time training sets from the offline store (build) and back (read, for training).
export { buildTrainingSet, SPLIT_ROW_GROUP_SIZE, type BuildTrainingSetOptions, type BuildTrainingSetResult, type TrainingSetProgress } from './build';
export { isTrainingSetDir, readTrainingSet, type ReadTrainingSetOptions, type TrainingSetData } from './read';
export { openExistingTable } from './tables';
export { fileSha256 } from './hash';
