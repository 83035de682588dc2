import { requireRole } from '../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { importModel as register } from '../../inference/registry.js';

export const importModel: NonNullable<MutationResolvers['importModel']> = (_parent, { input }, { services, config, caller }) => {
  requireRole(caller, 'trainer', 'importModel');
  return register(services.db, config.dataDir, { name: input.name, onnxPath: input.onnxPath, modelJsonPath: input.modelJsonPath ?? undefined }, config.imageLimits);
};
