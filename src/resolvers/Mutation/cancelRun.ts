import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const cancelRun: NonNullable<MutationResolvers['cancelRun']> = (_parent, { id }, { services }) => services.training.cancel(parseId(id, 'run'));
