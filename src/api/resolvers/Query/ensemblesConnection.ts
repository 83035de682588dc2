import type { QueryResolvers } from '../../generated/graphql.js';
import { paginate } from '../../pagination.js';
import { ensembleWhere } from '../filters.js';

export const ensemblesConnection: NonNullable<QueryResolvers['ensemblesConnection']> = (_parent, { filter, ...page }, { services: { db } }) => {
  const where = ensembleWhere(filter);
  return paginate(
    page,
    (query) => db.ensemble.findMany({ ...query, where: { AND: [where, query.where] } }),
    () => db.ensemble.count({ where }),
  );
};
