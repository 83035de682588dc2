import type { QueryResolvers } from '../../generated/graphql.js';

export const trainingCapabilities: NonNullable<QueryResolvers['trainingCapabilities']> = async (_parent, _args, { services }) => {
  const runtime = await services.training.runtime();
  return {
    backbones: runtime.backbones,
    backboneDetails: runtime.registry.map((b) => ({ ...b, stem: b.stem === 'small' ? 'SMALL' : 'IMAGENET' })),
    heads: runtime.heads,
    python: `${runtime.executable} (${runtime.python})`,
    torch: runtime.torch,
    cudaDevices: runtime.cudaDevices,
  };
};
