// The scores of deciding by arg-max, from the confusion matrix alone: top-1, ACSA, per-class rows, MCC,
// kappa. Ensemble fitting (inference) and cross-validation (training) judge decisions by them and
// reports' metrics are built on them, so they sit below all three: one definition of each score.
// Definitions follow scikit-learn's (test/reports/metrics.test.ts compares against it).
import { argmax, mean, ratio, sum } from './numeric.js';

export interface ClassRow {
  index: number;
  support: number;
  predicted: number;
  precision: number;
  recall: number;
  f1: number;
  specificity: number;
}

export function confusionOf(truth: readonly number[], predicted: readonly number[], classCount: number): number[][] {
  const rows = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  truth.forEach((t, i) => {
    const p = predicted[i]!;
    if (!(Number.isInteger(t) && t >= 0 && t < classCount && p >= 0 && p < classCount))
      throw new RangeError(`class index out of range at item ${i}: true ${t}, predicted ${p}, K = ${classCount}`);
    rows[t]![p]! += 1;
  });
  return rows;
}

/** Per-class rows and the scores built from a confusion matrix alone. */
export function fromConfusion(confusion: number[][]) {
  const K = confusion.length;
  const n = sum(confusion.map(sum));
  const support = confusion.map(sum);
  const predicted = confusion[0] ? confusion[0].map((_, k) => sum(confusion.map((row) => row[k]!))) : [];
  const diagonal = confusion.map((row, k) => row[k]!);
  const classes: ClassRow[] = confusion.map((_, k) => {
    const tp = diagonal[k]!;
    const precision = ratio(tp, predicted[k]!);
    const recall = ratio(tp, support[k]!);
    const trueNegatives = n - support[k]! - predicted[k]! + tp;
    return {
      index: k,
      support: support[k]!,
      predicted: predicted[k]!,
      precision,
      recall,
      f1: ratio(2 * precision * recall, precision + recall),
      specificity: ratio(trueNegatives, n - support[k]!),
    };
  });
  const present = classes.filter((c) => c.support > 0);
  // Macro F1 over the classes that occur in the truth or the predictions (scikit-learn's default labels).
  const seen = classes.filter((c) => c.support > 0 || c.predicted > 0);
  const trace = sum(diagonal);
  const agreement = sum(support.map((t, k) => t * predicted[k]!));
  const mccDenominator = Math.sqrt((n * n - sum(predicted.map((p) => p * p))) * (n * n - sum(support.map((t) => t * t))));
  const expected = ratio(agreement, n * n);
  const observed = ratio(trace, n);
  return {
    n,
    K,
    classes,
    top1: observed,
    acsa: mean(present.map((c) => c.recall)),
    macroF1: mean(seen.map((c) => c.f1)),
    weightedF1: ratio(sum(classes.map((c) => c.f1 * c.support)), n),
    mcc: mccDenominator === 0 ? 0 : (trace * n - agreement) / mccDenominator,
    // Both raters constant on one class: chance agreement is 1; kappa is 1 when they agree, else 0.
    kappa: expected === 1 ? (observed === 1 ? 1 : 0) : (observed - expected) / (1 - expected),
    gmeanRecall: present.length
      ? Math.exp(sum(present.map((c) => Math.log(Math.max(c.recall, 1e-300)))) / present.length) * (present.some((c) => c.recall === 0) ? 0 : 1)
      : 0,
    confusionNormalized: confusion.map((row, k) => row.map((count) => ratio(count, support[k]!))),
  };
}

/** The scores of deciding by arg-max: top-1, ACSA and the per-class rows. */
export function decisionScoresOf(truth: readonly number[], probabilities: readonly (readonly number[])[], classCount: number) {
  return fromConfusion(confusionOf(truth, probabilities.map(argmax), classCount));
}
