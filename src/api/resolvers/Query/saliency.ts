import { saliency as explain } from '../../../inference/saliency.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';
import { imageAndBox } from '../imageInput.js';

export const saliency: NonNullable<QueryResolvers['saliency']> = async (_parent, { input }, { services, config, client }) => {
  // The occluded copies are model time like classify's images: the same per-client limit applies.
  return services.clientLimiter.run(client, async () => {
    const result = await explain(services.classify, {
      ...(await imageAndBox(input, 'image', config, services)),
      ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
      artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
      grid: nullsAsAbsent(input).grid,
      client,
    });
    return {
      model: result.target.name,
      crop: `data:image/png;base64,${result.png.toString('base64')}`,
      size: result.spec.size,
      letterbox: result.geometry,
      grid: result.grid,
      patchColour: result.patch,
      tasks: result.tasks.map((t) => ({
        task: t.task,
        predicted: { index: t.predicted, name: t.classes[t.predicted]!, probability: t.probabilities[t.predicted]! },
        drops: t.drops,
      })),
    };
  });
};
