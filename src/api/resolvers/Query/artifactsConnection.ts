import type { QueryResolvers } from '../../generated/graphql.js';
import { paginate } from '../../pagination.js';
import { artifactWhere } from '../filters.js';

export const artifactsConnection: NonNullable<QueryResolvers['artifactsConnection']> = (_parent, { filter, ...page }, { services: { db } }) => {
  const where = artifactWhere(filter);
  return paginate(
    page,
    (query) => db.modelArtifact.findMany({ ...query, where: { AND: [where, query.where] } }),
    () => db.modelArtifact.count({ where }),
  );
};
