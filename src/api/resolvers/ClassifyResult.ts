import { argmax } from '../../numeric.js';
import type { ClassifyResultResolvers } from '../generated/graphql.js';

const distribution = (classes: string[], probabilities: number[]) => probabilities.map((probability, index) => ({ index, name: classes[index]!, probability }));

export const ClassifyResult: ClassifyResultResolvers = {
  model: (row) => row.target.name,
  served: (row) => row.served,
  ensemble: (row, _args, { services }) => (row.target.kind === 'ensemble' ? services.ensembles.get(row.target.id) : null),
  artifact: (row, _args, { services }) => (row.target.kind === 'artifact' ? services.db.modelArtifact.findUnique({ where: { id: row.target.id } }) : null),
  results: (row) =>
    row.results.map((tasks, index) => ({
      index,
      predictionId: row.predictionIds[index] ?? null,
      tasks: tasks.map((t) => {
        const best = argmax(t.probabilities);
        return {
          task: t.task,
          predicted: { index: best, name: t.classes[best]!, probability: t.probabilities[best]! },
          distribution: distribution(t.classes, t.probabilities),
          members:
            t.members?.map((m) => ({ artifactId: String(m.artifactId), weight: m.weight, distribution: distribution(t.classes, m.probabilities) })) ?? null,
        };
      }),
    })),
};
