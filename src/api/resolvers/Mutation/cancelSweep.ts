import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const cancelSweep: NonNullable<MutationResolvers['cancelSweep']> = async (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'cancelSweep');
  const sweepId = parseId(id, 'sweep');
  // A race also stops its driver, so that no later rung starts.
  return (await services.sweeps.get(sweepId)).strategy === 'RACE' ? services.races.cancel(sweepId) : services.sweeps.cancel(sweepId);
};
