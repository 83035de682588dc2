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
  rejects: (row, { limit, afterLine }, { services }) => services.datasets.rejects(row.id, Math.min(Math.max(limit ?? 100, 0), 10_000), afterLine ?? 0),
  items: async (row, { first, after, filter }, { services }) => {
    let count: () => Promise<number> = async () => 0;
    return paginateByPosition(
      { first, after },
      async (skip, take) => {
        const page = await services.datasets.itemPage(row.id, nullsAsAbsent(filter ?? {}), skip, take);
        count = page.count;
        return page.rows;
      },
      () => count(),
    );
  },
  digest: (row) => row.contentSha256,
  season: (row, _args, { services }) => (row.seasonProfile ? services.seasons.profiles.get(row.seasonProfile) : null),
  submissions: (row, { first }, { services }) => services.seasons.submissions(row.id, first ?? 20),
  parent: (row, _args, { services }) => (row.parentId !== null ? services.datasets.get(row.parentId) : null),
};
