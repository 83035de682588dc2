import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const tuneArtifact: NonNullable<MutationResolvers['tuneArtifact']> = (_parent, { id }, { services, caller }) => {
  requireRole(caller, 'trainer', 'tune an artifact');
  return services.models.tune(parseId(id, 'artifact'));
};
