// Imbalance-aware classification metrics for one task, as pure functions of the true class indices and
// the predicted probability rows. Every edge case has a defined value (never NaN): a class with no
// support or never predicted keeps its row and column, and ratios with a zero denominator are 0.
// Definitions follow scikit-learn's (the tests compare against it), with the choices noted inline.
import { type ClassRow, confusionOf, fromConfusion } from '../confusion.js';
import { argmax, EPSILON, ratio, sum } from '../numeric.js';

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean top-1 correctness of the items whose confidence falls in the bin (0 for an empty bin). */
  accuracy: number;
  /** Mean confidence in the bin (0 for an empty bin). */
  confidence: number;
}

export interface TaskMetrics {
  itemCount: number;
  top1: number;
  /** top-k accuracy for k = 1..min(5, K). */
  topK: number[];
  /** Average class-specific accuracy: mean recall over the classes that occur in the truth. */
  acsa: number;
  macroF1: number;
  weightedF1: number;
  mcc: number;
  kappa: number;
  /** Geometric mean of the recalls of the classes that occur in the truth. */
  gmeanRecall: number;
  /** Mean negative log-likelihood of the true class, probabilities clipped to [1e-15, 1 - 1e-15]. */
  nll: number;
  /** Multi-class Brier score: mean over items of the squared distance to the one-hot truth. */
  brier: number;
  /** Expected calibration error of the top-1 confidence over equal-width bins. */
  ece: number;
  reliability: ReliabilityBin[];
  classes: ClassRow[];
  /** rows[true][predicted]. */
  confusion: number[][];
  /** Each row divided by its support (a row without support stays all zeros). */
  confusionNormalized: number[][];
}

export function taskMetrics(truth: readonly number[], probabilities: readonly (readonly number[])[], classCount: number, bins = 15): TaskMetrics {
  if (truth.length !== probabilities.length) throw new RangeError(`${truth.length} labels but ${probabilities.length} probability rows`);
  const n = truth.length;
  const predicted = probabilities.map(argmax);
  const confusion = confusionOf(truth, predicted, classCount);
  const core = fromConfusion(confusion);
  const ranks = probabilities.map((row, i) => row.filter((p, k) => p > row[truth[i]!]! || (p === row[truth[i]!]! && k < truth[i]!)).length);
  const topK = Array.from({ length: Math.min(5, classCount) }, (_, k) => ratio(ranks.filter((r) => r <= k).length, n));
  let nll = 0;
  let brier = 0;
  probabilities.forEach((row, i) => {
    // As scikit-learn's log_loss: clip, then renormalise the row.
    const clipped = row.map((p) => Math.min(Math.max(p, EPSILON), 1 - EPSILON));
    const total = sum(clipped);
    nll -= Math.log(clipped[truth[i]!]! / total);
    brier += sum(row.map((p, k) => (p - (k === truth[i] ? 1 : 0)) ** 2));
  });
  const reliability: ReliabilityBin[] = Array.from({ length: bins }, (_, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: 0,
    accuracy: 0,
    confidence: 0,
  }));
  probabilities.forEach((row, i) => {
    const confidence = row[predicted[i]!]!;
    // Bins are (lower, upper]; a confidence of exactly 0 goes to the first bin.
    const bin = reliability[Math.min(bins - 1, Math.max(0, Math.ceil(confidence * bins) - 1))]!;
    bin.count += 1;
    bin.accuracy += predicted[i] === truth[i] ? 1 : 0;
    bin.confidence += confidence;
  });
  let ece = 0;
  for (const bin of reliability) {
    if (bin.count === 0) continue;
    bin.accuracy /= bin.count;
    bin.confidence /= bin.count;
    ece += (bin.count / n) * Math.abs(bin.accuracy - bin.confidence);
  }
  return {
    itemCount: n,
    top1: core.top1,
    topK,
    acsa: core.acsa,
    macroF1: core.macroF1,
    weightedF1: core.weightedF1,
    mcc: core.mcc,
    kappa: core.kappa,
    gmeanRecall: core.gmeanRecall,
    nll: ratio(nll, n),
    brier: ratio(brier, n),
    ece,
    reliability,
    classes: core.classes,
    confusion,
    confusionNormalized: core.confusionNormalized,
  };
}

/** Percentile bootstrap 95% intervals of top-1 and ACSA, resampling items with a seeded generator. */
export function bootstrapIntervals(truth: readonly number[], predicted: readonly number[], classCount: number, resamples = 1000, seed = 1) {
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  const n = truth.length;
  const top1s: number[] = [];
  const acsas: number[] = [];
  for (let r = 0; r < resamples && n > 0; r++) {
    const rows = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      rows[truth[j]!]![predicted[j]!]! += 1;
    }
    const core = fromConfusion(rows);
    top1s.push(core.top1);
    acsas.push(core.acsa);
  }
  const interval = (values: number[]) => {
    if (values.length === 0) return { low: 0, high: 0 };
    const sorted = [...values].sort((a, b) => a - b);
    return { low: sorted[Math.floor(0.025 * (sorted.length - 1))]!, high: sorted[Math.ceil(0.975 * (sorted.length - 1))]! };
  };
  return { top1: interval(top1s), acsa: interval(acsas) };
}
