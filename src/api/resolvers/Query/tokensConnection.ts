import { requireRole } from '../../../auth/tokens.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { paginate } from '../../pagination.js';
import { tokenWhere } from '../filters.js';

export const tokensConnection: NonNullable<QueryResolvers['tokensConnection']> = (_parent, { filter, ...page }, { services: { db }, caller }) => {
  requireRole(caller, 'admin', 'listing tokens');
  const where = tokenWhere(filter);
  return paginate(
    page,
    (query) => db.apiToken.findMany({ ...query, where: { AND: [where, query.where] }, omit: { hash: true } }),
    () => db.apiToken.count({ where }),
  );
};
