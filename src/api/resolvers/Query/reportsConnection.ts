import type { QueryResolvers } from '../../generated/graphql.js';
import { paginate } from '../../pagination.js';
import { reportWhere } from '../filters.js';

export const reportsConnection: NonNullable<QueryResolvers['reportsConnection']> = (_parent, { filter, ...page }, { services: { db } }) => {
  const where = reportWhere(filter);
  return paginate(
    page,
    (query) => db.evaluationReport.findMany({ ...query, where: { AND: [where, query.where] } }),
    () => db.evaluationReport.count({ where }),
  );
};
