import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const revokeToken: NonNullable<MutationResolvers['revokeToken']> = async (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'admin', 'revokeToken');
  return (await services.tokens.revoke(parseId(id, 'token'))) as never;
};
