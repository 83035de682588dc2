import type { ConfusionMatrixResolvers } from '../generated/graphql.js';

const rowsOf = (row: { rows: unknown }) => row.rows as number[][];
const supportOf = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

export const ConfusionMatrix: ConfusionMatrixResolvers = {
  classes: (row) => row.classes as string[],
  rows: (row) => rowsOf(row),
  normalized: (row) => rowsOf(row).map((counts) => counts.map((c) => (supportOf(counts) === 0 ? 0 : c / supportOf(counts)))),
  cells: (row) =>
    rowsOf(row).flatMap((counts, trueClass) =>
      counts.map((count, predictedClass) => ({ trueClass, predictedClass, count, rowShare: supportOf(counts) === 0 ? 0 : count / supportOf(counts) })),
    ),
};
