import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const cancelSweep: NonNullable<MutationResolvers['cancelSweep']> = (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'cancelSweep');
  return services.sweeps.cancel(parseId(id, 'sweep'));
};
