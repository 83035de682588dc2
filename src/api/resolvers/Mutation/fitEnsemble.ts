import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';

export const fitEnsemble: NonNullable<MutationResolvers['fitEnsemble']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'fitEnsemble');
  const { split, metric, temperatureScaling, logitAdjustment, rounds, makeDefault = false } = nullsAsAbsent(input);
  return services.fitter.fit({
    name: input.name,
    artifactIds: input.artifactIds.map((id) => parseId(id, 'artifact')),
    crossValidationIds: input.crossValidationIds?.map((id) => parseId(id, 'cross-validation')),
    datasetId: parseId(input.datasetId, 'dataset'),
    split,
    metric,
    temperatureScaling,
    logitAdjustment,
    rounds,
    makeDefault,
  });
};
