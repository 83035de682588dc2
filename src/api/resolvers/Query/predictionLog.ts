import type { QueryResolvers } from '../../generated/graphql.js';

export const predictionLog: NonNullable<QueryResolvers['predictionLog']> = async (_parent, _args, { services, config }) => ({
  ...services.predictionLog.counts,
  queued: services.predictionLog.queued,
  capacity: config.monitoring.log.queue,
  maxAgeDays: config.monitoring.log.maxAgeDays,
  maxRows: config.monitoring.log.maxRows,
  keepCrops: config.monitoring.log.keepCrops,
  rows: await services.db.prediction.count(),
});
