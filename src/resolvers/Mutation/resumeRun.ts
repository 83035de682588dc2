import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const resumeRun: NonNullable<MutationResolvers['resumeRun']> = (_parent, { id }, { services }) => services.training.resume(parseId(id, 'run'));
