// Imbalance-aware classification metrics for one task, as pure functions of the true class indices and
// the predicted probability rows. Every edge case has a defined value (never NaN): a class with no
// support or never predicted keeps its row and column, and ratios with a zero denominator are 0.
// Definitions follow scikit-learn's (the tests compare against it), with the choices noted inline.

export interface ClassRow {
  index: number;
  support: number;
  predicted: number;
  precision: number;
  recall: number;
  f1: number;
  specificity: number;
}

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

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Arithmetic mean; 0 for no values (the averages over tasks). */
export const mean = (values: number[]) => (values.length ? sum(values) / values.length : 0);

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
  return best;
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

export const EPSILON = 1e-15;

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
