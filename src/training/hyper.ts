// Training hyperparameters: a request's overrides merged onto the declared defaults (options.ts), and
// the checks that turn a bad value into a message naming the field and its valid range before any run
// is created.

import { IMAGENET_PREPROCESS } from '../data/image.js';
import { badInput } from '../errors.js';
import { DEFAULTS, type Hyperparameters, OPTION_NAMES, problemOf } from './options.js';

export {
  BUDGET_IMAGE_SIZES,
  CUTMIX_MODES,
  DEVICES,
  type Hyperparameters,
  PRECISIONS,
  SELECTION_METRICS,
} from './options.js';

/** Epochs a time-budgeted run may take at most when the request names no epochs. */
export const BUDGET_MAX_EPOCHS = 100;

/** The seed's recipe (3 epochs, batch 64, 224 px, AdamW with 5% warmup, offline CutMix x4) and the
 *  additions measured since: the declared defaults. */
export const SEED_RECIPE: Hyperparameters = DEFAULTS;

/** Merges overrides onto the seed's recipe and checks every field. */
export function resolveHyperparameters(overrides: Partial<Hyperparameters> = {}): Hyperparameters {
  const unknown = Object.keys(overrides).filter((key) => !(OPTION_NAMES as string[]).includes(key));
  if (unknown.length > 0) throw badInput(`unknown training option(s) ${unknown.join(', ')}; the options are ${OPTION_NAMES.join(', ')}`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined && v !== null));
  const budget = overrides.timeBudgetSeconds ?? null;
  const hyper: Hyperparameters = {
    ...SEED_RECIPE,
    // A budget chooses the epochs itself; the request's epochs, if any, cap them.
    ...(budget !== null ? { epochs: BUDGET_MAX_EPOCHS } : {}),
    ...defined,
    maxStepsPerEpoch: overrides.maxStepsPerEpoch ?? null,
    dataLoaderWorkers: overrides.dataLoaderWorkers ?? null,
    timeBudgetSeconds: budget,
  };
  if (budget !== null) {
    if (!(Number.isInteger(budget) && budget >= 10 && budget <= 7 * 24 * 3600))
      throw badInput(`a time budget must be a whole number of seconds from 10 to 604800 (a week), got ${budget}`);
    // The budget is the run's own stop; the hard time limit only catches a worker that overruns it.
    if (overrides.timeLimitSeconds === undefined) hyper.timeLimitSeconds = Math.ceil(budget * 1.25 + 60);
    if (hyper.timeLimitSeconds < budget) throw badInput(`timeLimitSeconds (${hyper.timeLimitSeconds}) is below the time budget (${budget} s)`);
  }
  for (const name of OPTION_NAMES) {
    const problem = problemOf(name, hyper[name]);
    if (problem) throw badInput(problem);
  }
  return hyper;
}

/** The part of the worker's config that is about preprocessing; it travels into model.json. */
export function preprocessFor(hyper: Hyperparameters) {
  return { size: hyper.imageSize, padValue: IMAGENET_PREPROCESS.padValue, mean: [...IMAGENET_PREPROCESS.mean], std: [...IMAGENET_PREPROCESS.std] };
}
