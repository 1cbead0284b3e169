// The decision threshold a package ships with. Chosen on the validation span (never the holdout,
// whose metrics must stay an unbiased estimate): the operating point `recall_at_1pct_fpr` reports
// — the most recall the false positive budget allows — at the highest threshold that reaches it,
// so a model that separates well does not spend the budget on needless alerts.
import { ValidationError } from '../errors';

/** Share of legitimate events a team is assumed to tolerate flagging for review. */
export const DEFAULT_TARGET_FPR = 0.01;

/**
 * Among the distinct scores t whose rule `score ≥ t` keeps the false positive rate ≤ `targetFpr`,
 * the highest one with the greatest recall; 1 when even the top score's group exceeds the budget
 * or no positive is caught within it (flag nothing).
 */
export function thresholdAtFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, targetFpr = DEFAULT_TARGET_FPR): number {
  if (scores.length !== labels.length) throw new ValidationError(`labels: expected ${scores.length} labels, got ${labels.length}`, 'labels');
  if (!(targetFpr >= 0 && targetFpr < 1)) throw new ValidationError(`targetFpr: must be in [0, 1) (got ${targetFpr})`, 'targetFpr');
  let negatives = 0;
  for (let i = 0; i < labels.length; i++) negatives += labels[i] === 1 ? 0 : 1;
  if (negatives === 0) throw new ValidationError('labels: a threshold by false positive rate needs negatives', 'labels');
  const order = Uint32Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let fp = 0;
  let tp = 0;
  let bestTp = 0;
  let threshold = 1;
  for (let i = 0; i < order.length; ) {
    const s = scores[order[i]!]!;
    let groupFp = 0;
    let groupTp = 0;
    while (i < order.length && scores[order[i]!]! === s) {
      if (labels[order[i]!] === 1) groupTp++;
      else groupFp++;
      i++;
    }
    if ((fp + groupFp) / negatives > targetFpr) break;
    fp += groupFp;
    tp += groupTp;
    // Strictly more recall only: a lower threshold that catches nothing new only adds alerts.
    if (tp > bestTp) {
      bestTp = tp;
      threshold = s;
    }
  }
  return threshold;
}
