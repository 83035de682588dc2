import { requireRole } from '../../../auth/tokens.js';
import type { RacePreset } from '../../../training/race.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';
import { budgetOptionsOf, trainingOptionsOf } from '../trainingOptions.js';

export const startTraining: NonNullable<MutationResolvers['startTraining']> = async (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'startTraining');
  const { backbones, heads, combos, budget, folds, preset } = nullsAsAbsent(input);
  const datasetId = parseId(input.datasetId, 'dataset');
  // A budget with nothing named to train: race a preset's portfolio; its first rung's runs are the answer.
  if (budget && !backbones?.length && !heads?.length && !combos?.length && !input.teacher && folds === undefined) {
    const race = await services.races.start({
      datasetId,
      budgetSeconds: budget.seconds,
      preset: preset ? (preset.toLowerCase() as RacePreset) : undefined,
      options: trainingOptionsOf(input.options),
    });
    return services.db.trainingRun.findMany({ where: { sweepId: race.id }, orderBy: { id: 'asc' } });
  }
  return services.training.startTraining({
    datasetId,
    backbones,
    heads,
    combos,
    folds,
    teacher: input.teacher ? { ...nullsAsAbsent(input.teacher), ensembleId: parseId(input.teacher.ensembleId, 'ensemble') } : undefined,
    options: { ...trainingOptionsOf(input.options), ...budgetOptionsOf(budget) },
  });
};
