// The resolver map: one file per field, assembled here.
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Resolvers } from '../generated/graphql.js';
import { Dataset } from './Dataset.js';
import { EvaluationReport } from './EvaluationReport.js';
import { LabelSchema } from './LabelSchema.js';
import { ModelArtifact } from './ModelArtifact.js';
import { cancelRun } from './Mutation/cancelRun.js';
import { importDataset } from './Mutation/importDataset.js';
import { resumeRun } from './Mutation/resumeRun.js';
import { startTraining } from './Mutation/startTraining.js';
import { dataset } from './Query/dataset.js';
import { datasets } from './Query/datasets.js';
import { health } from './Query/health.js';
import { run } from './Query/run.js';
import { runs } from './Query/runs.js';
import { trainingCapabilities } from './Query/trainingCapabilities.js';
import { TrainingRun } from './TrainingRun.js';

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  Query: { health, datasets, dataset, runs, run, trainingCapabilities },
  Mutation: { importDataset, startTraining, cancelRun, resumeRun },
  Dataset,
  LabelSchema,
  TrainingRun,
  ModelArtifact,
  EvaluationReport,
};
