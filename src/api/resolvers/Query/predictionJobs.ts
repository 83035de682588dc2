import { badInput } from '../../../errors.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const predictionJobs: NonNullable<QueryResolvers['predictionJobs']> = async (_parent, { datasetId, status, first }, { services }) => {
  const limit = first ?? 50;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 500)) throw badInput(`first must be an integer from 1 to 500, got ${limit}`);
  const jobs = await services.predictions.list({ datasetId: datasetId ? parseId(datasetId, 'dataset') : undefined, status: status ?? undefined });
  return jobs.slice(0, limit);
};
