// The holdout metrics a model package's manifest carries (HoldoutMetrics in models/manifest.ts).
import { ValidationError } from '../errors';
import type { HoldoutMetrics } from '../models/manifest';
import { expectedCalibrationError, logLoss, prAuc, recallAtFpr, rocAuc } from './classification';

/** The false positive rate at which `recall_at_1pct_fpr` is read. */
export const RECALL_FPR = 0.01;

/**
 * Every HoldoutMetrics figure for probabilities and 0/1 labels. The ranking metrics are undefined
 * without both classes, and the manifest wants finite numbers: such a set is refused.
 */
export function holdoutMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>): HoldoutMetrics {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  if (positives === 0 || positives === labels.length) {
    throw new ValidationError(`labels: holdout metrics need both classes (${positives} positives in ${labels.length} rows)`, 'labels');
  }
  return {
    rows: labels.length,
    positives,
    roc_auc: rocAuc(probabilities, labels),
    pr_auc: prAuc(probabilities, labels),
    recall_at_1pct_fpr: recallAtFpr(probabilities, labels, RECALL_FPR),
    log_loss: logLoss(probabilities, labels),
    ece: expectedCalibrationError(probabilities, labels),
  };
}
