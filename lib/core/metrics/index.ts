// Model quality metrics and the manifest's baseline histograms.
export { rocAuc, prAuc, recallAtFpr, logLoss, expectedCalibrationError } from './classification';
export { holdoutMetrics, RECALL_FPR } from './holdout';
export {
  quantileEdges,
  scoreEdges,
  histogramOf,
  featureHistogram,
  scoreHistogram,
  featureBaselines,
  DEFAULT_FEATURE_BINS,
  DEFAULT_SCORE_BINS,
} from './histograms';
