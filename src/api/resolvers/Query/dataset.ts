import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const dataset: NonNullable<QueryResolvers['dataset']> = (_parent, { id }, { services }) => services.datasets.get(parseId(id, 'dataset'));
