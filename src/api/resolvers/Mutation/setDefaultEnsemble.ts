import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const setDefaultEnsemble: NonNullable<MutationResolvers['setDefaultEnsemble']> = (_parent, { id }, { services, caller }) => {
  const { name } = requireRole(caller, 'trainer', 'setDefaultEnsemble');
  return services.ensembles.setDefault(parseId(id, 'ensemble'), name);
};
