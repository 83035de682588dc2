import type { QueryResolvers } from '../../generated/graphql.js';

export const ensembles: NonNullable<QueryResolvers['ensembles']> = (_parent, _args, { services }) => services.ensembles.list();
