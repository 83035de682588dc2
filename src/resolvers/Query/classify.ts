import type { QueryResolvers } from '../../generated/graphql.js';
import { imageBytes } from '../imageInput.js';
import { parseId } from '../ids.js';

export const classify: NonNullable<QueryResolvers['classify']> = async (_parent, { input }, { services, config, client }) => {
  const release = services.clientLimiter.acquire(client);
  try {
    return await services.classify.classify({
      images: await Promise.all(input.images.map(async (image, index) => ({ image: await imageBytes(image, `images[${index}]`, config), bbox: image.bbox }))),
      ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
      artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
      includeMembers: input.includeMembers ?? false,
      client,
    });
  } finally {
    release();
  }
};
