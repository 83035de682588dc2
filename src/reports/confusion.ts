// Confusion matrices and the two headline metrics of the challenge: top-1 and ACSA (average
// class-specific accuracy, the mean over classes of per-class recall). Pure functions.

/** rows[true][predicted] over all K classes, so an absent or never-predicted class keeps its row and column. */
export function confusionMatrix(truth: readonly number[], predicted: readonly number[], classCount: number): number[][] {
  if (truth.length !== predicted.length) throw new RangeError(`truth has ${truth.length} labels but predicted has ${predicted.length}`);
  const rows = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  truth.forEach((t, i) => {
    const p = predicted[i]!;
    if (!(t >= 0 && t < classCount && p >= 0 && p < classCount)) throw new RangeError(`class index out of range at ${i}: true ${t}, predicted ${p}, K = ${classCount}`);
    rows[t]![p]! += 1;
  });
  return rows;
}

export function top1(rows: number[][]): number {
  const total = rows.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  return total === 0 ? 0 : rows.reduce((sum, row, k) => sum + row[k]!, 0) / total;
}

/** Mean over classes with support of recall; classes absent from the truth are left out, not counted as 0. */
export function acsa(rows: number[][]): number {
  const recalls = rows.flatMap((row, k) => {
    const support = row.reduce((a, b) => a + b, 0);
    return support === 0 ? [] : [row[k]! / support];
  });
  return recalls.length === 0 ? 0 : recalls.reduce((a, b) => a + b, 0) / recalls.length;
}

/** Index of the largest value in each row of a row-major [n, k] probability matrix. */
export function argmaxRows(probabilities: ArrayLike<number>, classCount: number): number[] {
  const n = probabilities.length / classCount;
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let k = 1; k < classCount; k++) if (probabilities[i * classCount + k]! > probabilities[i * classCount + best]!) best = k;
    return best;
  });
}
