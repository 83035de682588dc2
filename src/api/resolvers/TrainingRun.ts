import { roleAtLeast } from '../../auth/tokens.js';
import { maskServerPaths } from '../../errors.js';
import { CANCELLABLE_STATUSES, RESUMABLE_STATUSES, type RunStatus } from '../../jobs/statuses.js';
import { mean } from '../../numeric.js';
import type { DistillationRecord, DistillationScores } from '../../training/distillation.js';
import type { EpochRecord, RunProgress } from '../../training/runRecord.js';
import { trialOf } from '../../training/sweep.js';
import type { TrainingRunResolvers } from '../generated/graphql.js';

function epochsOf(row: { epochs: unknown }) {
  return ((row.epochs as EpochRecord[] | null) ?? []).map((e) => ({
    ...e,
    meanTop1: mean(e.validation.map((v) => v.top1)),
    meanAcsa: mean(e.validation.map((v) => v.acsa)),
    averagedWeights: e.weights === 'ema',
  }));
}

export const TrainingRun: TrainingRunResolvers = {
  id: (row) => String(row.id),
  dataset: (row, _args, { services }) => services.datasets.get(row.datasetId),
  status: (row) => row.status as RunStatus,
  error: (row) => (row.error === null ? null : maskServerPaths(row.error)),
  // Python's tracebacks tell more about the server than a reader needs: trainers and up, paths masked.
  stderrTail: (row, _args, { caller }) => (row.stderrTail !== null && caller && roleAtLeast(caller.role, 'trainer') ? maskServerPaths(row.stderrTail) : null),
  cancellable: (row) => CANCELLABLE_STATUSES.has(row.status),
  resumable: (row) => RESUMABLE_STATUSES.has(row.status),
  parameterCount: (row) => (row.progress as { parameterCount?: number } | null)?.parameterCount ?? null,
  progress: (row) => {
    const progress = row.progress as RunProgress | null;
    return progress ? { ...progress, phase: progress.phase ?? 'TRAINING', updatedAt: new Date(progress.updatedAt) } : null;
  },
  imageCache: (row) => (row.progress as RunProgress | null)?.imageCache ?? null,
  weights: (row) => (row.progress as RunProgress | null)?.weights ?? null,
  budget: (row) => {
    const budget = (row.progress as RunProgress | null)?.budget;
    return budget ? { ...budget, sizes: budget.sizes ?? [] } : null;
  },
  selection: (row) => {
    const selection = (row.progress as RunProgress | null)?.selection;
    if (!selection) return null;
    const stopped = selection.stopped ? (selection.stopped.toUpperCase() as 'EARLY' | 'BUDGET' | 'PRUNED') : null;
    return { ...selection, stopped, averagedWeights: selection.weights === 'ema' };
  },
  distillation: async (row, _args, { services }) => {
    const record = row.distillation as DistillationRecord | null;
    if (!record) return null;
    const report = (scores: DistillationScores) => services.db.evaluationReport.findUniqueOrThrow({ where: { id: scores.reportId } });
    const comparison = record.comparison
      ? {
          ...record.comparison,
          student: { ...record.comparison.student, report: await report(record.comparison.student) },
          teacher: { ...record.comparison.teacher, report: await report(record.comparison.teacher) },
          baseline: record.comparison.baseline ? { ...record.comparison.baseline, report: await report(record.comparison.baseline) } : null,
          studentInt8: record.comparison.studentInt8 ? { ...record.comparison.studentInt8, report: await report(record.comparison.studentInt8) } : null,
          studentInt8Error: record.comparison.studentInt8Error ?? null,
        }
      : null;
    return {
      teacher: await services.ensembles.get(record.teacherEnsembleId),
      temperature: record.temperature,
      alpha: record.alpha,
      baselineRun: record.baselineRunId ? await services.training.get(record.baselineRunId) : null,
      comparison,
      comparisonError: record.comparisonError ?? null,
    };
  },
  trial: (row) => {
    const record = trialOf(row);
    return record ? { run: row, record } : null;
  },
  fold: async (row, _args, { services }) =>
    row.crossValidationId === null ? null : { crossValidation: await services.crossValidations.get(row.crossValidationId), index: row.foldIndex! },
  warnings: (row) => (row.progress as RunProgress | null)?.warnings ?? [],
  epochs: (row) => epochsOf(row),
  bestValidationAcsa: (row) => {
    const scores = epochsOf(row).map((e) => e.meanAcsa);
    return scores.length ? Math.max(...scores) : null;
  },
  artifact: (row, _args, { services }) => services.db.modelArtifact.findUnique({ where: { runId: row.id } }),
  validationReport: (row, _args, { services }) =>
    services.db.evaluationReport.findFirst({ where: { runId: row.id, split: 'VALIDATION' }, orderBy: { id: 'desc' } }),
};
