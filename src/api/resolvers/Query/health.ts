import { databaseReachable } from '../../../db/client.js';
import { VERSION } from '../../../version.js';
import type { QueryResolvers } from '../../generated/graphql.js';

export const health: NonNullable<QueryResolvers['health']> = async (_parent, _args, { services, config }) => {
  const database = await databaseReachable(services.db);
  return {
    ok: database,
    version: VERSION,
    database,
    limits: {
      maxClassifyImages: config.serving.maxClassifyImages,
      maxImageBytes: config.imageLimits.maxBytes,
      maxImagePixels: config.imageLimits.maxPixels,
      maxBodyBytes: config.maxBodyBytes,
      maxModelBytes: config.maxModelBytes,
    },
  };
};
