import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const applyLabelReview: NonNullable<MutationResolvers['applyLabelReview']> = (_parent, { scanId, name }, { services, caller }) => {
  requireRole(caller, 'trainer', 'applyLabelReview');
  return services.labelReview.apply(parseId(scanId, 'label-issue scan'), name ?? undefined);
};
