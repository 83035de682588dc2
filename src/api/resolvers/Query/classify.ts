import { infer } from '../../dataPlane.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { imageAndBox } from '../../imageInput.js';
import { parseId } from '../ids.js';

export const classify: NonNullable<QueryResolvers['classify']> = (_parent, { input }, context) => {
  const { services, config, client, uploads } = context;
  const model = {
    name: input.model ?? undefined,
    ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
    artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
  };
  const images = input.images.map((image, index) => () => imageAndBox(image, `images[${index}]`, config, services, uploads));
  return infer(context, client, model, images, { includeMembers: input.includeMembers ?? false });
};
