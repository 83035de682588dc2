// Confident learning (Northcutt, Jiang and Chuang, 2021, "Confident Learning: Estimating Uncertainty in
// Dataset Labels"): from out-of-sample predicted probabilities and the given labels, per class a
// threshold (the mean probability of the class over the items labelled with it), the confident joint
// (given label x the class an item's probabilities confidently point to), and the suspects off its
// diagonal, ranked by self-confidence (the probability of the given label, lowest first). Pure.

export interface LabelSuspect {
  /** Position of the item in the input. */
  index: number;
  given: number;
  /** The probability of the given label. */
  selfConfidence: number;
  /** The class among those at or above their threshold with the highest probability. */
  suggested: number;
  suggestedProbability: number;
}

export interface ConfidentLearning {
  thresholds: number[];
  /** confidentJoint[given][suggested]: items counted once, where some class reaches its threshold. */
  confidentJoint: number[][];
  /** Off-diagonal items of the confident joint, lowest self-confidence first (ties: earlier item first). */
  suspects: LabelSuspect[];
}

/** `probabilities[i]` is item i's distribution over the classes, `labels[i]` its given class. */
export function findLabelIssues(labels: readonly number[], probabilities: readonly (readonly number[])[], classCount: number): ConfidentLearning {
  if (labels.length !== probabilities.length) throw new Error(`${labels.length} labels but ${probabilities.length} rows of probabilities`);
  const sums = new Array<number>(classCount).fill(0);
  const counts = new Array<number>(classCount).fill(0);
  labels.forEach((label, i) => {
    sums[label]! += probabilities[i]![label]!;
    counts[label]! += 1;
  });
  // A class nobody is labelled with has no threshold: it can never be suggested (Infinity).
  const thresholds = sums.map((sum, k) => (counts[k]! > 0 ? sum / counts[k]! : Number.POSITIVE_INFINITY));
  const confidentJoint = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  const suspects: LabelSuspect[] = [];
  labels.forEach((given, index) => {
    const row = probabilities[index]!;
    let suggested = -1;
    for (let k = 0; k < classCount; k++) {
      if (row[k]! >= thresholds[k]! && (suggested < 0 || row[k]! > row[suggested]!)) suggested = k;
    }
    if (suggested < 0) return; // no class is confidently indicated: the item counts nowhere
    confidentJoint[given]![suggested]! += 1;
    if (suggested !== given) suspects.push({ index, given, selfConfidence: row[given]!, suggested, suggestedProbability: row[suggested]! });
  });
  suspects.sort((a, b) => a.selfConfidence - b.selfConfidence || a.index - b.index);
  return { thresholds, confidentJoint, suspects };
}
