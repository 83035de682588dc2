import type { ModelInfo } from '../../inference/registry.js';
import type { ModelArtifactResolvers } from '../generated/graphql.js';

const info = (row: { modelInfo: unknown }) => row.modelInfo as ModelInfo;

export const ModelArtifact: ModelArtifactResolvers = {
  id: (row) => String(row.id),
  inputSize: (row) => info(row).input.size,
  run: (row, _args, { services }) => (row.runId ? services.training.get(row.runId) : null),
  backbone: (row) => info(row).backbone ?? null,
  head: (row) => info(row).head ?? null,
  outputKind: (row) => info(row).outputKind,
  testTimeFlip: (row) => info(row).testTimeFlip === true,
  tasks: (row) => info(row).tasks.map((task, index) => ({ index, name: task.name, column: task.name, classes: task.classes })),
};
