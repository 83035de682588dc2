import type { EnsembleResolvers } from '../generated/graphql.js';

export const Ensemble: EnsembleResolvers = {
  id: (row) => String(row.id),
  members: async (row, _args, { services }) =>
    Promise.all(
      (await services.ensembles.members(row.id)).map(async (m) => ({
        weight: m.weight,
        artifact: await services.db.modelArtifact.findUniqueOrThrow({ where: { id: m.artifactId } }),
      })),
    ),
  tasks: async (row, _args, { services }) => (await services.datasets.labelSchema(row.labelSchemaId)).tasks.map((task, index) => ({ index, ...task })),
};
