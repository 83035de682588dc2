import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const cancelPredictionJob: NonNullable<MutationResolvers['cancelPredictionJob']> = (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'cancelPredictionJob');
  return services.predictions.cancel(parseId(id, 'prediction job'));
};
