import { requireRole } from '../../../auth/tokens.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

// A query, but one that makes the models work (the reference, then every window): trainers only, as checkDrift.
export const driftTimeline: NonNullable<QueryResolvers['driftTimeline']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'driftTimeline');
  return services.drift.timeline(input.alias, {
    from: input.from,
    to: input.to ?? new Date(),
    buckets: input.buckets ?? 12,
    datasetId: input.datasetId ? parseId(input.datasetId, 'dataset') : undefined,
  });
};
