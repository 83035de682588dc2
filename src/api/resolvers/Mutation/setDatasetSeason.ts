import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const setDatasetSeason: NonNullable<MutationResolvers['setDatasetSeason']> = (_parent, { datasetId, profile }, { services, caller }) => {
  requireRole(caller, 'trainer', 'setDatasetSeason');
  return services.seasons.setDatasetSeason(parseId(datasetId, 'dataset'), profile ?? null);
};
