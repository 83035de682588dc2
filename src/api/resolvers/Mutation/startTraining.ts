import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';
import { budgetOptionsOf, trainingOptionsOf } from '../trainingOptions.js';

export const startTraining: NonNullable<MutationResolvers['startTraining']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'startTraining');
  const { backbones, heads, combos, budget, folds } = nullsAsAbsent(input);
  return services.training.startTraining({
    datasetId: parseId(input.datasetId, 'dataset'),
    backbones,
    heads,
    combos,
    folds,
    teacher: input.teacher ? { ...nullsAsAbsent(input.teacher), ensembleId: parseId(input.teacher.ensembleId, 'ensemble') } : undefined,
    options: { ...trainingOptionsOf(input.options), ...budgetOptionsOf(budget) },
  });
};
