import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

const DAY_MS = 86_400_000;

export const checkDrift: NonNullable<MutationResolvers['checkDrift']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'checkDrift');
  const to = input.to ?? new Date();
  return services.drift.report(input.alias, {
    from: input.from ?? new Date(to.getTime() - DAY_MS),
    to,
    datasetId: input.datasetId ? parseId(input.datasetId, 'dataset') : undefined,
  });
};
