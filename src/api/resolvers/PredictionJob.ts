import type { Split } from '../../domain.js';
import type { RunStatus } from '../../jobs/statuses.js';
import type { PredictionJobResolvers } from '../generated/graphql.js';

export const PredictionJob: PredictionJobResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  modelId: (row) => String(row.modelId),
  split: (row) => row.split as Split | null,
  season: (row) => {
    if (row.seasonProfile === null) return null;
    const reasons = (row.seasonReasons ?? []) as string[];
    return { profileId: row.seasonProfile, accepted: reasons.length === 0, reasons, overridden: row.seasonOverridden };
  },
  status: (row) => row.status as RunStatus,
  // The table's HTTP address (server.ts serves it); only a finished job has one.
  downloadUrl: (row, { format }) => (row.status === 'SUCCEEDED' ? `/predictions/${row.id}/table.${(format ?? 'CSV').toLowerCase()}` : null),
};
