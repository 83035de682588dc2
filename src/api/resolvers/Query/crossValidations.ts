import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const crossValidations: NonNullable<QueryResolvers['crossValidations']> = (_parent, { datasetId }, { services }) =>
  services.crossValidations.list(datasetId ? parseId(datasetId, 'dataset') : undefined);
