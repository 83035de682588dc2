import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const predictDataset: NonNullable<MutationResolvers['predictDataset']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'predictDataset');
  return services.predictions.create({
    datasetId: parseId(input.datasetId, 'dataset'),
    model: input.model ?? undefined,
    ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
    artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
    split: input.split ?? undefined,
    ignoreSeason: input.ignoreSeason ?? false,
  });
};
