import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';

export const undoAliasChange: NonNullable<MutationResolvers['undoAliasChange']> = (_parent, { name }, { services, caller }) => {
  const { name: actor } = requireRole(caller, 'trainer', 'undoAliasChange');
  return services.aliases.undo(name, actor);
};
