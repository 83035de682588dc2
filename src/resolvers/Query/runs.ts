import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const runs: NonNullable<QueryResolvers['runs']> = (_parent, { filter }, { services }) =>
  services.training.list({
    status: filter?.status ?? undefined,
    datasetId: filter?.datasetId ? parseId(filter.datasetId, 'dataset') : undefined,
    backbone: filter?.backbone ?? undefined,
    head: filter?.head ?? undefined,
  });
