import { follow } from '../../../pubsub/pubsub.js';
import type { SubscriptionResolvers } from '../../generated/graphql.js';
import { reportWhere } from '../filters.js';
import type { EvaluationReportRow } from '../mappers.js';

export const reportAdded: NonNullable<SubscriptionResolvers['reportAdded']> = {
  subscribe: (_parent, { filter }, { services: { db, pubsub } }) => {
    const where = reportWhere(filter);
    return follow(pubsub.subscribe('reportAdded'), {
      map: async ({ reportId }) => (await db.evaluationReport.findFirst({ where: { AND: [{ id: reportId }, where] } })) ?? undefined,
    });
  },
  resolve: (report: EvaluationReportRow) => report,
};
