import { requireRole } from '../../../auth/tokens.js';
import { badInput } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';

export const predictions: NonNullable<QueryResolvers['predictions']> = (_parent, { alias, labelled, first }, { services, caller }) => {
  requireRole(caller, 'trainer', 'predictions');
  const take = first ?? 50;
  if (!(take >= 1 && take <= 500)) throw badInput(`first must be between 1 and 500, got ${take}`);
  return services.db.prediction.findMany({
    where: { ...(alias ? { alias } : {}), ...(labelled === true ? { labelledAt: { not: null } } : labelled === false ? { labelledAt: null } : {}) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take,
  });
};
