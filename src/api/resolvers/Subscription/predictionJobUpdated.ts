import { FINAL_STATUSES } from '../../../jobs/statuses.js';
import { follow } from '../../../pubsub/pubsub.js';
import type { SubscriptionResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';
import type { PredictionJobRow } from '../mappers.js';

/** The job now, then after each change, ending with its final status. */
export const predictionJobUpdated: NonNullable<SubscriptionResolvers['predictionJobUpdated']> = {
  subscribe: async (_parent, { id }, { services }) => {
    const jobId = parseId(id, 'prediction job');
    // Listen before reading, so that no change between the read and the first notice is lost.
    const notices = services.pubsub.subscribe('predictionJobChanged');
    try {
      const first = await services.predictions.get(jobId);
      return follow(notices, {
        first,
        map: async (notice) => (notice.jobId === jobId ? services.predictions.get(jobId) : undefined),
        isLast: (job) => FINAL_STATUSES.has(job.status),
      });
    } catch (error) {
      await notices.return?.();
      throw error;
    }
  },
  resolve: (job: PredictionJobRow) => job,
};
