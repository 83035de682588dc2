import { requireRole } from '../../../auth/tokens.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import type { Hyperparameters } from '../../../training/hyper.js';
import { parseId } from '../ids.js';

export const startTraining: NonNullable<MutationResolvers['startTraining']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'startTraining');
  const { cutmix, device, mixedPrecision, ...options } = input.options ?? {};
  return services.training.startTraining({
    datasetId: parseId(input.datasetId, 'dataset'),
    backbones: input.backbones ?? undefined,
    heads: input.heads ?? undefined,
    combos: input.combos ?? undefined,
    teacher: input.teacher
      ? {
          ensembleId: parseId(input.teacher.ensembleId, 'ensemble'),
          temperature: input.teacher.temperature ?? undefined,
          alpha: input.teacher.alpha ?? undefined,
          compareWithoutTeacher: input.teacher.compareWithoutTeacher ?? undefined,
        }
      : undefined,
    options: {
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null)) as Partial<Hyperparameters>),
      ...(cutmix ? { cutmix: cutmix.toLowerCase() as Hyperparameters['cutmix'] } : {}),
      ...(device ? { device: device as Hyperparameters['device'] } : {}),
      ...(mixedPrecision ? { mixedPrecision: mixedPrecision as Hyperparameters['mixedPrecision'] } : {}),
    },
  });
};
