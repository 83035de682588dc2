import type { QueryResolvers } from '../../generated/graphql.js';
import { paginate } from '../../pagination.js';
import { datasetWhere } from '../filters.js';

export const datasetsConnection: NonNullable<QueryResolvers['datasetsConnection']> = (_parent, { filter, ...page }, { services: { db } }) => {
  const where = datasetWhere(filter);
  return paginate(
    page,
    (query) => db.dataset.findMany({ ...query, where: { AND: [where, query.where] } }),
    () => db.dataset.count({ where }),
  );
};
