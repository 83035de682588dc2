import type { QueryResolvers } from '../../generated/graphql.js';

export const datasets: NonNullable<QueryResolvers['datasets']> = (_parent, _args, { services }) => services.datasets.list();
