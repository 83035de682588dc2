import type { RankingMetric } from '../../data/import.js';
import type { DatasetResolvers } from '../generated/graphql.js';
import { paginateByPosition } from '../pagination.js';
import { nullsAsAbsent } from './absent.js';

export const Dataset: DatasetResolvers = {
  id: (row) => String(row.id),
  rankingMetric: (row) => row.rankingMetric as RankingMetric,
  labelSchema: (row, _args, { services }) => services.datasets.labelSchema(row.labelSchemaId),
  splits: (row, _args, { services }) => services.datasets.splitCounts(row.id),
  distribution: (row, { split }, { services }) => services.datasets.distribution(row.id, split ?? undefined),
  rejects: (row, { limit }, { services }) => services.datasets.rejects(row.id, Math.min(Math.max(limit ?? 100, 0), 10_000)),
  items: async (row, { first, after, filter }, { services }) => {
    const ids = await services.datasets.itemIds(row.id, nullsAsAbsent(filter ?? {}));
    return paginateByPosition(
      { first, after },
      (skip, take) => services.datasets.items(ids.slice(skip, skip + take)),
      async () => ids.length,
    );
  },
  digest: (row) => row.contentSha256,
  parent: (row, _args, { services }) => (row.parentId !== null ? services.datasets.get(row.parentId) : null),
};
