import type { QueryResolvers } from '../../generated/graphql.js';

export const alias: NonNullable<QueryResolvers['alias']> = (_parent, { name }, { services }) => services.aliases.get(name);
