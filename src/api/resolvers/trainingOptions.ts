// TrainingOptions (GraphQL) -> the training service's hyperparameter overrides, for every mutation
// that takes them (startTraining, startSweep).
import type { Hyperparameters } from '../../training/hyper.js';
import type { CutMixMode, TrainingBudgetInput, TrainingOptions } from '../generated/graphql.js';
import { nullsAsAbsent } from './absent.js';

/** GraphQL's CutMix enum as the worker names it. */
export const cutmixModeOf = (mode: CutMixMode) => mode.toLowerCase() as Hyperparameters['cutmix'];

export function trainingOptionsOf(input: TrainingOptions | null | undefined): Partial<Hyperparameters> {
  const { cutmix, device, mixedPrecision, ...options } = nullsAsAbsent(input ?? {});
  return {
    ...(options as Partial<Hyperparameters>),
    ...(cutmix ? { cutmix: cutmixModeOf(cutmix) } : {}),
    ...(device ? { device: device as Hyperparameters['device'] } : {}),
    ...(mixedPrecision ? { mixedPrecision: mixedPrecision as Hyperparameters['mixedPrecision'] } : {}),
  };
}

/** A budget input as hyperparameters: its seconds, and the sides and epochs its probe chooses between. */
export function budgetOptionsOf(budget: TrainingBudgetInput | null | undefined): Partial<Hyperparameters> {
  if (!budget) return {};
  const { seconds, imageSizes, minEpochs } = nullsAsAbsent(budget);
  return { timeBudgetSeconds: seconds, budgetImageSizes: imageSizes, budgetMinEpochs: minEpochs };
}
