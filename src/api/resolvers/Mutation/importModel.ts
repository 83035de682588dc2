import { requireRole } from '../../../auth/tokens.js';
import { importModel as register } from '../../../inference/registry.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { readUpload, saveUpload } from '../../uploads.js';

/** model.json describes a model in a few hundred bytes; a megabyte is generous. */
const MAX_MODEL_JSON_BYTES = 1024 * 1024;

export const importModel: NonNullable<MutationResolvers['importModel']> = async (_parent, { input }, { services, config, caller }) => {
  requireRole(caller, 'trainer', 'importModel');
  const modelJson = readUpload(input.modelJson, 'modelJson', MAX_MODEL_JSON_BYTES, 'model.json limit').then((bytes) => bytes.toString('utf8'));
  return register(
    { db: services.db, artifactStore: services.artifactStore, dataDir: config.dataDir },
    { name: input.name, modelJson, saveOnnx: (file) => saveUpload(input.onnx, file, 'onnx', config.maxModelBytes, 'FASHION_HOW_MAX_MODEL_BYTES') },
    config.imageLimits,
    config.modelChecks,
  );
};
