import type { QueryResolvers } from '../../generated/graphql.js';
import { runFilterOf } from '../filters.js';

export const runs: NonNullable<QueryResolvers['runs']> = (_parent, { filter }, { services }) => services.training.list(runFilterOf(filter));
