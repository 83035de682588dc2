import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const cancelRun: NonNullable<MutationResolvers['cancelRun']> = (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'cancelRun');
  return services.training.cancel(parseId(id, 'run'));
};
