import type { ModelArtifactResolvers } from '../generated/graphql.js';
import type { ModelInfo } from '../inference/registry.js';

const info = (row: { modelInfo: unknown }) => row.modelInfo as ModelInfo;

export const ModelArtifact: ModelArtifactResolvers = {
  id: (row) => String(row.id),
  inputSize: (row) => info(row).input.size,
  tasks: (row) => info(row).tasks.map((task, index) => ({ index, name: task.name, column: task.name, classes: task.classes })),
};
