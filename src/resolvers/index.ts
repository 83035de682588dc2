// The resolver map: one file per field, assembled here.
import { DateTimeResolver } from 'graphql-scalars';
import type { Resolvers } from '../generated/graphql.js';
import { Dataset } from './Dataset.js';
import { LabelSchema } from './LabelSchema.js';
import { importDataset } from './Mutation/importDataset.js';
import { dataset } from './Query/dataset.js';
import { datasets } from './Query/datasets.js';
import { health } from './Query/health.js';

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  Query: { health, datasets, dataset },
  Mutation: { importDataset },
  Dataset,
  LabelSchema,
};
