import { explain } from '../../dataPlane.js';
import type { QueryResolvers } from '../../generated/graphql.js';
import { imageAndBox } from '../../imageInput.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';

export const saliency: NonNullable<QueryResolvers['saliency']> = async (_parent, { input }, context) => {
  const { services, config, client, uploads } = context;
  const model = {
    ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
    artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
  };
  const result = await explain(context, client, model, () => imageAndBox(input, 'image', config, services, uploads), nullsAsAbsent(input).grid);
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
};
