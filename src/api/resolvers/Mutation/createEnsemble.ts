import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const createEnsemble: NonNullable<MutationResolvers['createEnsemble']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'createEnsemble');
  return services.ensembles.create({
    name: input.name,
    makeDefault: input.makeDefault ?? false,
    members: input.members.map((m) => ({ artifactId: parseId(m.artifactId, 'artifact'), weight: m.weight ?? 1 })),
  });
};
