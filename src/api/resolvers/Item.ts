import type { Split } from '../../domain.js';
import type { Services } from '../context.js';
import type { ItemPredictionResolvers, ItemResolvers, ReportPredictionResolvers } from '../generated/graphql.js';
import type { ReportPredictionRow } from './mappers.js';

/** The class names of a dataset's tasks. */
export async function classNamesOf(services: Services, datasetId: number): Promise<string[][]> {
  const dataset = await services.datasets.get(datasetId);
  return (await services.datasets.labelSchema(dataset.labelSchemaId)).tasks.map((t) => t.classes);
}

export const Item: ItemResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  split: (row) => row.split as Split,
  bbox: (row) => ({ xmin: row.xmin, ymin: row.ymin, xmax: row.xmax, ymax: row.ymax }),
  labels: async (row, _args, { services }) => {
    const labels = row.labels ?? (await services.datasets.item(row.id)).labels;
    const dataset = await services.datasets.get(row.datasetId);
    const { tasks } = await services.datasets.labelSchema(dataset.labelSchemaId);
    return labels.map((l) => ({ task: l.task, taskName: tasks[l.task]!.name, classIndex: l.classIndex, className: tasks[l.task]!.classes[l.classIndex]! }));
  },
  cropUrl: (row) => `/items/${row.id}/crop.jpg`,
  photoUrl: (row) => `/items/${row.id}/photo.jpg`,
  predictions: async (row, { limit }, { services }) => {
    const rows = await services.db.reportPrediction.findMany({
      where: { itemId: row.id },
      include: { report: true },
      orderBy: [{ reportId: 'desc' }, { task: 'asc' }],
      take: Math.min(Math.max(limit ?? 100, 1), 500),
    });
    const classes = await classNamesOf(services, row.datasetId);
    return rows.map((r) => ({ ...r, classes: classes[r.task]! }));
  },
};

/** The fields a report's prediction and an item's prediction share. */
const prediction = {
  task: (row: ReportPredictionRow) => row.task,
  truth: (row: ReportPredictionRow) => ({ index: row.trueClass, name: row.classes[row.trueClass]!, probability: row.trueProbability }),
  predicted: (row: ReportPredictionRow) => ({ index: row.predictedClass, name: row.classes[row.predictedClass]!, probability: row.confidence }),
  correct: (row: ReportPredictionRow) => row.trueClass === row.predictedClass,
};

export const ReportPrediction: ReportPredictionResolvers = {
  ...prediction,
  item: (row, _args, { services }) => services.datasets.item(row.itemId),
  // -ln p of the true class; a probability of 0 (float underflow) counts as 1e-12.
  loss: (row) => -Math.log(Math.max(row.trueProbability, 1e-12)),
};

export const ItemPrediction: ItemPredictionResolvers = {
  ...prediction,
  report: (row) => row.report,
  model: async (row, _args, { services }) => {
    if (row.report.ensembleId) return (await services.ensembles.get(row.report.ensembleId)).name;
    const artifact = row.report.artifactId ? await services.db.modelArtifact.findUnique({ where: { id: row.report.artifactId } }) : null;
    return artifact?.name ?? `report ${row.report.id}`;
  },
};
