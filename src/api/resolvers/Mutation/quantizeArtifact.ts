import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';

export const quantizeArtifact: NonNullable<MutationResolvers['quantizeArtifact']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'quantize an artifact');
  const { datasetId, split, items, method } = nullsAsAbsent(input);
  return services.quantization.quantize({
    artifactId: parseId(input.artifactId, 'artifact'),
    calibration: { datasetId: datasetId ? parseId(datasetId, 'dataset') : undefined, split, items },
    method,
  });
};
