import { requireRole } from '../../../auth/tokens.js';
import { badInput } from '../../../errors.js';
import type { ModelRef } from '../../../inference/aliases.js';
import type { ModelRefInput, MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

/** An ensemble or an artifact, exactly one. */
export function modelRefOf(input: ModelRefInput, what: string): ModelRef {
  if (Boolean(input.ensembleId) === Boolean(input.artifactId)) throw badInput(`${what}: give ensembleId or artifactId, exactly one`);
  return input.ensembleId ? { kind: 'ensemble', id: parseId(input.ensembleId, 'ensemble') } : { kind: 'artifact', id: parseId(input.artifactId!, 'artifact') };
}

export const setAlias: NonNullable<MutationResolvers['setAlias']> = (_parent, { input }, { services, caller }) => {
  const { name: actor } = requireRole(caller, 'trainer', 'setAlias');
  return services.aliases.set(
    input.name,
    {
      target: modelRefOf(input.target, 'target'),
      candidate: input.candidate ? modelRefOf(input.candidate, 'candidate') : null,
      mode: input.mode ?? 'NONE',
      canaryPercent: input.canaryPercent ?? 0,
      logRate: input.logRate ?? 0,
    },
    actor,
  );
};
