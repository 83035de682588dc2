// The online report's per-task details, shown as evaluate's are.
import type { Services } from '../context.js';
import type { OnlineModelReportResolvers, OnlineReportResolvers } from '../generated/graphql.js';
import { detailsOf } from './EvaluationReport.js';

const details = async (row: { details: Parameters<typeof detailsOf>[0] }, labelSchemaId: number | null, services: Services) =>
  labelSchemaId === null ? [] : detailsOf(row.details, (await services.datasets.labelSchema(labelSchemaId)).tasks);

export const OnlineReport: OnlineReportResolvers = {
  details: (row, _args, { services }) => details(row, row.labelSchemaId, services),
  models: (row) => row.models.map((m) => ({ ...m, labelSchemaId: row.labelSchemaId })),
};

export const OnlineModelReport: OnlineModelReportResolvers = {
  model: (row) => ({ kind: row.kind as 'ensemble' | 'artifact', id: row.id }),
  role: (row) => row.role as 'CHAMPION' | 'CANDIDATE' | 'SHADOW' | 'DIRECT',
  details: (row, _args, { services }) => details(row, row.labelSchemaId, services),
};
