import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const reviewLabelIssue: NonNullable<MutationResolvers['reviewLabelIssue']> = (_parent, { id, decision, classIndex }, { services, caller }) => {
  requireRole(caller, 'trainer', 'reviewLabelIssue');
  return services.labelReview.review(parseId(id, 'label issue'), decision, classIndex ?? undefined);
};
