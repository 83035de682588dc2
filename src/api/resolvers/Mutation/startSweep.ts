import { requireRole } from '../../../auth/tokens.js';
import { badInput } from '../../../errors.js';
import type { SweepSpace } from '../../../training/sweep.js';
import type { MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { parseId } from '../ids.js';
import { cutmixModeOf, trainingOptionsOf } from '../trainingOptions.js';

export const startSweep: NonNullable<MutationResolvers['startSweep']> = (_parent, { input }, { services, caller }) => {
  requireRole(caller, 'trainer', 'startSweep');
  const { backbones, heads, cutmix, imageSize, ...ranges } = nullsAsAbsent(input.space);
  const space: SweepSpace = {
    ...Object.fromEntries(Object.entries(ranges).map(([key, range]) => [key, range && { min: range.min, max: range.max, log: range.log ?? false }])),
    ...(imageSize ? { imageSize } : {}),
    ...(cutmix ? { cutmix: cutmix.map(cutmixModeOf) } : {}),
    ...(backbones ? { backbone: backbones } : {}),
    ...(heads ? { head: heads } : {}),
  };
  const { strategy, minEpochs, reductionFactor, metric, seed } = nullsAsAbsent(input);
  if (strategy === 'RACE') throw badInput('a race is started with startRace (or startTraining with a budget and no backbone), not startSweep');
  return services.sweeps.start({
    datasetId: parseId(input.datasetId, 'dataset'),
    backbone: input.backbone,
    head: input.head,
    space,
    trials: input.trials,
    strategy,
    minEpochs,
    reductionFactor,
    metric,
    seed,
    options: trainingOptionsOf(input.options),
    teacher: input.teacher
      ? { ...nullsAsAbsent(input.teacher), ensembleId: parseId(input.teacher.ensembleId, 'ensemble'), compareWithoutTeacher: false }
      : undefined,
  });
};
