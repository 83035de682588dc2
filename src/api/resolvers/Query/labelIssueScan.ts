import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const labelIssueScan: NonNullable<QueryResolvers['labelIssueScan']> = (_parent, { id }, { services }) =>
  services.labelReview.scan(parseId(id, 'label-issue scan'));
