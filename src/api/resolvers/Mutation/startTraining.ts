import { requireRole } from '../../../auth/tokens.js';
import type { Hyperparameters } from '../../../training/hyper.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';

export const startTraining: NonNullable<MutationResolvers['startTraining']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'startTraining');
  const { cutmix, device, mixedPrecision, ...options } = nullsAsAbsent(input.options ?? {});
  const { backbones, heads, combos, budget } = nullsAsAbsent(input);
  return services.training.startTraining({
    datasetId: parseId(input.datasetId, 'dataset'),
    backbones,
    heads,
    combos,
    teacher: input.teacher ? { ...nullsAsAbsent(input.teacher), ensembleId: parseId(input.teacher.ensembleId, 'ensemble') } : undefined,
    options: {
      ...(options as Partial<Hyperparameters>),
      ...(cutmix ? { cutmix: cutmix.toLowerCase() as Hyperparameters['cutmix'] } : {}),
      ...(device ? { device: device as Hyperparameters['device'] } : {}),
      ...(mixedPrecision ? { mixedPrecision: mixedPrecision as Hyperparameters['mixedPrecision'] } : {}),
      ...(budget ? { timeBudgetSeconds: budget.seconds } : {}),
    },
  });
};
