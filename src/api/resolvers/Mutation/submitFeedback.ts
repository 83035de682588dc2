import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';

export const submitFeedback: NonNullable<MutationResolvers['submitFeedback']> = (_parent, { predictionId, labels }, { services, caller }) => {
  requireRole(caller, 'trainer', 'submitFeedback');
  return services.predictionLog.feedback(predictionId, labels);
};
