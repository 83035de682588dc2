import type { LabelDecision as Decision, ScanTask } from '../../reports/labelReview.js';
import type { LabelIssueResolvers, LabelIssueScanResolvers } from '../generated/graphql.js';
import { classNamesOf } from './Item.js';

export const LabelIssueScan: LabelIssueScanResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  source: (row) =>
    row.crossValidationId !== null
      ? `cross-validation ${row.crossValidationId} (out of fold)`
      : `${row.artifactId !== null ? `artifact ${row.artifactId}` : `ensemble ${row.ensembleId}`} on ${row.split}`,
  tasks: (row) => row.tasks as unknown as ScanTask[],
  issues: (row, { task, decision, limit, offset }, { services }) =>
    services.labelReview.issues(row.id, {
      task: task ?? undefined,
      decision: (decision ?? undefined) as Decision | undefined,
      limit: limit ?? 100,
      offset: offset ?? 0,
    }),
  reviewedDataset: (row, _args, { services }) => (row.reviewedDatasetId !== null ? services.datasets.get(row.reviewedDatasetId) : null),
};

export const LabelIssue: LabelIssueResolvers = {
  id: (row) => String(row.id),
  item: (row, _args, { services }) => services.datasets.item(row.itemId),
  given: async (row, _args, { services }) => {
    const classes = await scanClasses(services, row.scanId);
    return { index: row.givenClass, name: classes[row.task]![row.givenClass]!, probability: row.selfConfidence };
  },
  suggested: async (row, _args, { services }) => {
    const classes = await scanClasses(services, row.scanId);
    return { index: row.suggestedClass, name: classes[row.task]![row.suggestedClass]!, probability: row.suggestedProbability };
  },
  decision: (row) => row.decision as Decision,
};

async function scanClasses(services: Parameters<typeof classNamesOf>[0], scanId: number) {
  return classNamesOf(services, (await services.labelReview.scan(scanId)).datasetId);
}
