import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const resumePredictionJob: NonNullable<MutationResolvers['resumePredictionJob']> = (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'resumePredictionJob');
  return services.predictions.resume(parseId(id, 'prediction job'));
};
