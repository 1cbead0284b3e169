// Binary classification metrics over scores (any order-preserving scale unless stated: ROC-AUC,
// PR-AUC and recall@FPR only rank) and 0/1 labels. Each returns NaN where it is undefined (no
// positive, or no negative, for the ranking metrics); `holdoutMetrics` refuses such a set.
import { ValidationError } from '../errors';

function check(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length) throw new ValidationError(`labels: expected ${scores.length} labels, got ${labels.length}`, 'labels');
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i]!)) throw new ValidationError(`scores[${i}]: must be a number, got NaN`, 'scores');
    const y = labels[i]!;
    if (y !== 0 && y !== 1) throw new ValidationError(`labels[${i}]: must be 0 or 1`, 'labels');
  }
}

/** Indices by descending score; equal scores keep index order (the metrics treat ties as one step). */
function byScoreDescending(scores: ArrayLike<number>): Uint32Array {
  const s = Float64Array.from(scores);
  return Uint32Array.from({ length: s.length }, (_, i) => i).sort((a, b) => s[b]! - s[a]! || a - b);
}

function countPositives(labels: ArrayLike<number>): number {
  let p = 0;
  for (let i = 0; i < labels.length; i++) p += labels[i]!;
  return p;
}

/**
 * Walks the distinct thresholds from the highest score down, calling `visit(tp, fp)` with the
 * cumulative true and false positives of "score ≥ threshold" after each group of tied scores.
 */
function walkThresholds(scores: ArrayLike<number>, labels: ArrayLike<number>, visit: (tp: number, fp: number) => void): void {
  const order = byScoreDescending(scores);
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; ) {
    const s = scores[order[i]!]!;
    while (i < order.length && scores[order[i]!]! === s) {
      if (labels[order[i]!] === 1) tp++;
      else fp++;
      i++;
    }
    visit(tp, fp);
  }
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, a tie counting one half (Mann–Whitney U with average ranks for ties).
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  check(scores, labels);
  const p = countPositives(labels);
  const n = labels.length - p;
  if (p === 0 || n === 0) return NaN;
  // Going down the ranking, each positive beats every negative not yet seen, and half-beats the
  // negatives tied with it.
  let wins = 0;
  let prevTp = 0;
  let prevFp = 0;
  walkThresholds(scores, labels, (tp, fp) => {
    const groupPos = tp - prevTp;
    const groupNeg = fp - prevFp;
    wins += groupPos * (n - fp) + 0.5 * groupPos * groupNeg;
    prevTp = tp;
    prevFp = fp;
  });
  return wins / (p * n);
}

/**
 * Average precision, the step-wise area under the precision-recall curve without interpolation
 * (as scikit-learn's average_precision_score): AP = Σ_k (R_k − R_{k−1}) · P_k over the distinct
 * score thresholds from the highest down, where P_k and R_k are the precision and recall of
 * flagging every row scoring at least the k-th threshold, and R_0 = 0.
 */
export function prAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  check(scores, labels);
  const p = countPositives(labels);
  if (p === 0) return NaN;
  let ap = 0;
  let prevRecall = 0;
  walkThresholds(scores, labels, (tp, fp) => {
    const recall = tp / p;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  });
  return ap;
}

/**
 * The largest recall (true positive rate) of any threshold at the distinct scores, flagging
 * score ≥ threshold, whose false positive rate does not exceed `maxFpr`; 0 when even the highest
 * score's group exceeds it. No interpolation between thresholds.
 */
export function recallAtFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, maxFpr = 0.01): number {
  check(scores, labels);
  if (!(maxFpr >= 0 && maxFpr <= 1)) throw new ValidationError(`maxFpr: must be in [0, 1] (got ${maxFpr})`, 'maxFpr');
  const p = countPositives(labels);
  const n = labels.length - p;
  if (p === 0 || n === 0) return NaN;
  let best = 0;
  walkThresholds(scores, labels, (tp, fp) => {
    if (fp / n <= maxFpr) best = Math.max(best, tp / p);
  });
  return best;
}

/**
 * Mean negative log-likelihood, the probability given to the true class clipped to [eps, 1 − eps]
 * (default eps 1e-15), so a certain mistake costs −ln(eps) ≈ 34.5 instead of Infinity.
 */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>, eps = 1e-15): number {
  check(probabilities, labels);
  if (labels.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i]!;
    sum -= Math.log(Math.min(Math.max(labels[i] === 1 ? p : 1 - p, eps), 1 - eps));
  }
  return sum / labels.length;
}

/**
 * Expected calibration error over `bins` equal-width probability bins on [0, 1] (default 10):
 * ECE = Σ_b (n_b / N) · |mean label in b − mean probability in b|. Bin b holds [b/bins, (b+1)/bins),
 * the last one also 1; probabilities outside [0, 1] are clamped into the end bins.
 */
export function expectedCalibrationError(probabilities: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): number {
  check(probabilities, labels);
  if (!(Number.isInteger(bins) && bins >= 1)) throw new ValidationError(`bins: must be a positive integer (got ${bins})`, 'bins');
  if (labels.length === 0) return NaN;
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const q = probabilities[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(q * bins)));
    count[b]!++;
    sumP[b]! += q;
    sumY[b]! += labels[i]!;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(sumY[b]! - sumP[b]!) / labels.length;
  return ece;
}
