import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const run: NonNullable<QueryResolvers['run']> = (_parent, { id }, { services }) => services.training.get(parseId(id, 'run'));
