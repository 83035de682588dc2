import type { QueryResolvers } from '../../generated/graphql.js';
import { runFilterOf } from '../filters.js';

export const runsConnection: NonNullable<QueryResolvers['runsConnection']> = (_parent, { filter, ...page }, { services }) => services.training.page(runFilterOf(filter), page);
