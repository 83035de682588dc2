import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const reports: NonNullable<QueryResolvers['reports']> = (_parent, { filter }, { services }) =>
  services.db.evaluationReport.findMany({
    where: {
      parentReportId: null,
      ...(filter?.datasetId ? { datasetId: parseId(filter.datasetId, 'dataset') } : {}),
      ...(filter?.runId ? { runId: parseId(filter.runId, 'run') } : {}),
      ...(filter?.artifactId ? { artifactId: parseId(filter.artifactId, 'artifact') } : {}),
      ...(filter?.ensembleId ? { ensembleId: parseId(filter.ensembleId, 'ensemble') } : {}),
    },
    orderBy: { id: 'desc' },
  });
