import type { QueryResolvers } from '../../generated/graphql.js';

export const aliases: NonNullable<QueryResolvers['aliases']> = (_parent, _args, { services }) => services.aliases.list();
