import { requireRole } from '../../../auth/tokens.js';
import type { QueryResolvers } from '../../generated/graphql.js';

export const tokens: NonNullable<QueryResolvers['tokens']> = async (_parent, _args, { services, caller }) => {
  requireRole(caller, 'admin', 'listing tokens');
  return services.tokens.list();
};
