// Small numeric helpers that inference, training and reports all use (a mean over tasks, the predicted
// class, the floor under a probability before its log). They sit here, below every domain folder, so
// that none of those floors imports another's for them.

/** The smallest probability a log is taken of (scikit-learn's log_loss clips to it as well). */
export const EPSILON = 1e-15;

export const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Arithmetic mean; 0 for no values (the averages over tasks). */
export const mean = (values: readonly number[]) => (values.length ? sum(values) / values.length : 0);

/** a / b, or 0 when b is 0: the ratios of metrics are defined for empty classes too. */
export const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** The index of the largest value (the first of equals): the predicted class. */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
  return best;
}
