import { requireRole } from '../../../auth/tokens.js';
import { follow } from '../../../pubsub/pubsub.js';
import type { ImportPhase, ImportProgress, SubscriptionResolvers } from '../../generated/graphql.js';

/** One upload's progress until it is DONE or FAILED. */
export const importProgress: NonNullable<SubscriptionResolvers['importProgress']> = {
  subscribe: (_parent, { id }, { services, caller }) => {
    requireRole(caller, 'trainer', 'importProgress');
    return follow(services.pubsub.subscribe('importProgress'), {
      map: async (notice) =>
        notice.progressId === id ? { phase: notice.phase as ImportPhase, done: notice.done, total: notice.total, message: notice.message ?? null } : undefined,
      isLast: (progress) => progress.phase === 'DONE' || progress.phase === 'FAILED',
    });
  },
  resolve: (progress: ImportProgress) => progress,
};
