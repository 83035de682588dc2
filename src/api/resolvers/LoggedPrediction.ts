// A logged prediction: its answer per task (with the class names of its label schema) and feedback.
import type { CropStats } from '../../data/image.js';
import type { Bbox } from '../../domain.js';
import { argmax } from '../../numeric.js';
import type { LoggedPredictionResolvers } from '../generated/graphql.js';

export const LoggedPrediction: LoggedPredictionResolvers = {
  model: (row) => ({ kind: row.modelKind as 'ensemble' | 'artifact', id: row.modelId }),
  cropKept: (row) => row.cropKey !== null,
  bbox: (row) => row.bbox as unknown as Bbox,
  stats: (row) => row.stats as unknown as Omit<CropStats, 'sha256'>,
  role: (row) => row.role as 'CHAMPION' | 'CANDIDATE' | 'SHADOW' | 'DIRECT',
  tasks: async (row, _args, { services }) => {
    const { tasks } = await services.datasets.labelSchema(row.labelSchemaId);
    const probabilities = row.probabilities as number[][];
    const labels = row.labels as number[] | null;
    return tasks.map((task, t) => {
      const distribution = probabilities[t]!.map((probability, index) => ({ index, name: task.classes[index]!, probability }));
      return { task: task.name, distribution, predicted: distribution[argmax(probabilities[t]!)]!, label: labels ? task.classes[labels[t]!]! : null };
    });
  },
};
