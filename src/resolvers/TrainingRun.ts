import type { TrainingRunResolvers } from '../generated/graphql.js';
import { mean } from '../reports/metrics.js';
import type { EpochRecord, RunProgress, RunStatus } from '../training/service.js';


function epochsOf(row: { epochs: unknown }) {
  return ((row.epochs as EpochRecord[] | null) ?? []).map((e) => ({
    ...e,
    meanTop1: mean(e.validation.map((v) => v.top1)),
    meanAcsa: mean(e.validation.map((v) => v.acsa)),
  }));
}

export const TrainingRun: TrainingRunResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  status: (row) => row.status as RunStatus,
  parameterCount: (row) => ((row.progress as { parameterCount?: number } | null)?.parameterCount ?? null),
  progress: (row) => {
    const progress = row.progress as RunProgress | null;
    return progress ? { ...progress, phase: progress.phase ?? 'TRAINING', updatedAt: new Date(progress.updatedAt) } : null;
  },
  imageCache: (row) => (row.progress as RunProgress | null)?.imageCache ?? null,
  epochs: (row) => epochsOf(row),
  bestValidationAcsa: (row) => {
    const scores = epochsOf(row).map((e) => e.meanAcsa);
    return scores.length ? Math.max(...scores) : null;
  },
  artifact: (row, _args, { services }) => services.db.modelArtifact.findUnique({ where: { runId: row.id } }),
  validationReport: (row, _args, { services }) =>
    services.db.evaluationReport.findFirst({ where: { runId: row.id, split: 'VALIDATION' }, orderBy: { id: 'desc' } }),
};
