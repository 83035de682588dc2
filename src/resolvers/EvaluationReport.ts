import type { EvaluationReportResolvers } from '../generated/graphql.js';
import type { Split } from '../domain.js';
import type { TaskScore } from '../reports/store.js';

interface StoredMetrics {
  tasks: TaskScore[];
  meanTop1: number;
  meanAcsa: number;
}
const metrics = (row: { metrics: unknown }) => row.metrics as StoredMetrics;

export const EvaluationReport: EvaluationReportResolvers = {
  id: (row) => String(row.id),
  split: (row) => row.split as Split,
  tasks: (row) => metrics(row).tasks.map((t) => ({ task: t.name, top1: t.top1, acsa: t.acsa })),
  meanTop1: (row) => metrics(row).meanTop1,
  meanAcsa: (row) => metrics(row).meanAcsa,
  confusionMatrices: async (row, _args, { services }) =>
    (await services.db.confusionMatrix.findMany({ where: { reportId: row.id }, orderBy: { task: 'asc' } })).map((m) => ({
      task: m.task,
      taskName: m.taskName,
      classes: m.classes as string[],
      rows: m.rows as number[][],
    })),
};
