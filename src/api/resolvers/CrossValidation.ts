import type { CrossValidationResolvers } from '../generated/graphql.js';

export const CrossValidation: CrossValidationResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  status: (row, _args, { services }) => services.crossValidations.status(row.id),
  runs: (row, _args, { services }) => services.crossValidations.runs(row.id),
  outOfFold: (row, _args, { services }) => services.crossValidations.outOfFoldScores(row.id),
  ensemble: (row, _args, { services }) => (row.ensembleId === null ? null : services.ensembles.get(row.ensembleId)),
};
