import type { LogitAdjustment } from '../../inference/ensembles.js';
import type { FitRecord } from '../../inference/fitEnsemble.js';
import type { EnsembleResolvers } from '../generated/graphql.js';

export const Ensemble: EnsembleResolvers = {
  id: (row) => String(row.id),
  members: async (row, _args, { services }) =>
    Promise.all(
      (await services.ensembles.members(row.id)).map(async (m) => ({
        weight: m.weight,
        temperatures: (m.temperatures as number[] | null) ?? null,
        artifact: await services.db.modelArtifact.findUniqueOrThrow({ where: { id: m.artifactId } }),
      })),
    ),
  fit: async (row, _args, { services }) => {
    const fit = row.fit as FitRecord | null;
    if (!fit) return null;
    const artifacts = await services.db.modelArtifact.findMany({ where: { id: { in: fit.candidates.map((c) => c.artifactId) } } });
    return {
      ...fit,
      dataset: await services.datasets.get(fit.datasetId),
      candidates: fit.candidates.map((c) => ({ ...c, artifact: artifacts.find((a) => a.id === c.artifactId)! })),
      steps: fit.steps.map((s) => ({ artifactId: String(s.artifactId), score: s.score })),
      bestMemberScore: fit.bestMember.score,
      bestMemberArtifactId: String(fit.bestMember.artifactId),
      outOfFold: fit.outOfFold ?? false,
      crossValidations: await Promise.all((fit.crossValidationIds ?? []).map((id) => services.crossValidations.get(id))),
    };
  },
  logitAdjustment: (row) => (row.logitAdjustment as LogitAdjustment | null)?.tasks ?? null,
  logitAdjustmentOptimised: (row) => {
    const adjustment = row.logitAdjustment as LogitAdjustment | null;
    return adjustment ? (adjustment.optimised ?? 'MEAN_ACSA') : null;
  },
  tasks: async (row, _args, { services }) => (await services.datasets.labelSchema(row.labelSchemaId)).tasks.map((task, index) => ({ index, ...task })),
};
