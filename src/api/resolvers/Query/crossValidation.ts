import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const crossValidation: NonNullable<QueryResolvers['crossValidation']> = (_parent, { id }, { services }) =>
  services.crossValidations.get(parseId(id, 'cross-validation'));
