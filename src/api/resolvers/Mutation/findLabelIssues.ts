import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const findLabelIssues: NonNullable<MutationResolvers['findLabelIssues']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'findLabelIssues');
  return services.labelReview.find({
    datasetId: parseId(input.datasetId, 'dataset'),
    crossValidationId: input.crossValidationId ? parseId(input.crossValidationId, 'cross-validation') : undefined,
    artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
    ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
    split: input.split ?? undefined,
  });
};
