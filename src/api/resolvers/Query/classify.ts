import type { QueryResolvers } from '../../generated/graphql.js';
import { parseId } from '../ids.js';
import { imageAndBox } from '../imageInput.js';

export const classify: NonNullable<QueryResolvers['classify']> = (_parent, { input }, { services, config, client }) =>
  services.clientLimiter.run(client, async () =>
    services.router.serve({
      images: await Promise.all(input.images.map((image, index) => imageAndBox(image, `images[${index}]`, config, services))),
      model: input.model ?? undefined,
      ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
      artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
      includeMembers: input.includeMembers ?? false,
      client,
    }),
  );
