// A drift report, stored or one window of a timeline: its body holds the per-feature comparisons.
import type { DriftBody } from '../../reports/drift.js';
import type { DriftReportResolvers } from '../generated/graphql.js';

const body = (row: { body: unknown }) => row.body as DriftBody;

export const DriftReport: DriftReportResolvers = {
  id: (row) => (row.id === null ? null : String(row.id)),
  enough: (row) => body(row).enough,
  model: (row) => body(row).model,
  dataset: (row, _args, { services }) => services.datasets.get(body(row).dataset.id),
  datasetVersion: (row) => body(row).dataset.version,
  referenceItems: (row) => body(row).dataset.referenceItems,
  psiThreshold: (row) => body(row).thresholds.psi,
  familyPValue: (row) => body(row).thresholds.pValue,
  pValueThreshold: (row) => body(row).thresholds.pValue / (body(row).tasks.length + body(row).inputs.length),
  tasks: (row) => body(row).tasks,
  inputs: (row) => body(row).inputs,
};
