import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const ensemble: NonNullable<QueryResolvers['ensemble']> = (_parent, { id }, { services }) => services.ensembles.get(parseId(id, 'ensemble'));
