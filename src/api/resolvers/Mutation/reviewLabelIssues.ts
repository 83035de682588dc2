import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const reviewLabelIssues: NonNullable<MutationResolvers['reviewLabelIssues']> = (
  _parent,
  { scanId, decision, task, pendingOnly },
  { services, caller },
) => {
  requireRole(caller, 'trainer', 'reviewLabelIssues');
  return services.labelReview.reviewAll(parseId(scanId, 'label-issue scan'), decision, { task: task ?? undefined, pendingOnly: pendingOnly ?? true });
};
