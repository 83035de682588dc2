import { FINAL_STATUSES } from '../../../jobs/statuses.js';
import { follow } from '../../../pubsub/pubsub.js';
import type { SubscriptionResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';
import type { TrainingRunRow } from '../mappers.js';

/** The run now, then after each change, ending with its final status. */
export const runUpdated: NonNullable<SubscriptionResolvers['runUpdated']> = {
  subscribe: async (_parent, { id }, { services }) => {
    const runId = parseId(id, 'run');
    // Listen before reading, so that no change between the read and the first notice is lost.
    const notices = services.pubsub.subscribe('runChanged');
    try {
      const first = await services.training.get(runId);
      return follow(notices, {
        first,
        map: async (notice) => (notice.runId === runId ? services.training.get(runId) : undefined),
        isLast: (run) => FINAL_STATUSES.has(run.status),
      });
    } catch (error) {
      await notices.return?.();
      throw error;
    }
  },
  resolve: (run: TrainingRunRow) => run,
};
