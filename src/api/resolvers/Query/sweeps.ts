import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const sweeps: NonNullable<QueryResolvers['sweeps']> = (_parent, { datasetId }, { services }) =>
  services.sweeps.list(datasetId ? parseId(datasetId, 'dataset') : undefined);
