import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const driftTimeline: NonNullable<QueryResolvers['driftTimeline']> = (_parent, { input }, { services }) =>
  services.drift.timeline(input.alias, {
    from: input.from,
    to: input.to ?? new Date(),
    buckets: input.buckets ?? 12,
    datasetId: input.datasetId ? parseId(input.datasetId, 'dataset') : undefined,
  });
