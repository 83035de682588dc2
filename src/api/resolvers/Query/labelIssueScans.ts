import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const labelIssueScans: NonNullable<QueryResolvers['labelIssueScans']> = (_parent, { datasetId }, { services }) =>
  services.labelReview.list(datasetId ? parseId(datasetId, 'dataset') : undefined);
