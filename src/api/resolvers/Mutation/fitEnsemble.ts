import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';

export const fitEnsemble: NonNullable<MutationResolvers['fitEnsemble']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'fitEnsemble');
  return services.fitter.fit({
    name: input.name,
    artifactIds: input.artifactIds.map((id) => parseId(id, 'artifact')),
    datasetId: parseId(input.datasetId, 'dataset'),
    split: input.split ?? undefined,
    metric: input.metric ?? undefined,
    temperatureScaling: input.temperatureScaling ?? undefined,
    logitAdjustment: input.logitAdjustment ?? undefined,
    rounds: input.rounds ?? undefined,
    makeDefault: input.makeDefault ?? false,
  });
};
