import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const item: NonNullable<QueryResolvers['item']> = (_parent, { id }, { services }) => services.datasets.item(parseId(id, 'item'));
