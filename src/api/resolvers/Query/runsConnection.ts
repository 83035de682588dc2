import { runWhere } from '../../../training/runRecord.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { paginate } from '../../pagination.js';
import { runFilterOf } from '../filters.js';

export const runsConnection: NonNullable<QueryResolvers['runsConnection']> = (_parent, { filter, ...page }, { services: { db } }) => {
  const where = runWhere(runFilterOf(filter));
  return paginate(
    page,
    (query) => db.trainingRun.findMany({ ...query, where: { AND: [where, query.where] } }),
    () => db.trainingRun.count({ where }),
  );
};
