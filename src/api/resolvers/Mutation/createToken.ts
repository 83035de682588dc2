import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';

export const createToken: NonNullable<MutationResolvers['createToken']> = async (_parent, { name, role }, { services, caller }) => {
  requireRole(caller, 'admin', 'createToken');
  const created = await services.tokens.create(name, role);
  return { id: String(created.id), role: created.role, token: created.token };
};
