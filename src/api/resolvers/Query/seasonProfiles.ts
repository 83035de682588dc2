import type { QueryResolvers } from '../../generated/graphql.js';

export const seasonProfiles: NonNullable<QueryResolvers['seasonProfiles']> = (_parent, _args, { services }) => services.seasons.profiles.list();
