import type { QueryResolvers } from '../../generated/graphql.js';

export const artifacts: NonNullable<QueryResolvers['artifacts']> = (_parent, _args, { services }) =>
  services.db.modelArtifact.findMany({ orderBy: { id: 'asc' } });
