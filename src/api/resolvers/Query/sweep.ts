import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const sweep: NonNullable<QueryResolvers['sweep']> = (_parent, { id }, { services }) => services.sweeps.get(parseId(id, 'sweep'));
