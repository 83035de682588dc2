import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const resumeRun: NonNullable<MutationResolvers['resumeRun']> = (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'resumeRun');
  return services.training.resume(parseId(id, 'run'));
};
