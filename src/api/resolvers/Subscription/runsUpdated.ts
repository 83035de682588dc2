import { follow } from '../../../pubsub/pubsub.js';
import type { SubscriptionResolvers } from '../../generated/graphql.js';
import { runFilterOf } from '../filters.js';
import type { TrainingRunRow } from '../mappers.js';

export const runsUpdated: NonNullable<SubscriptionResolvers['runsUpdated']> = {
  subscribe: (_parent, { filter }, { services }) => {
    const query = runFilterOf(filter);
    return follow(services.pubsub.subscribe('runChanged'), { map: async ({ runId }) => (await services.training.findMatching(runId, query)) ?? undefined });
  },
  resolve: (run: TrainingRunRow) => run,
};
