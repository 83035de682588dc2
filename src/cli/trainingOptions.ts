// The training options `train` and `sweep` share: each one a hyperparameter, with the recipe's default
// in its help.
import type { Command } from 'commander';
import { BUDGET_IMAGE_SIZES, CUTMIX_MODES, DEVICES, type Hyperparameters, PRECISIONS, SEED_RECIPE, SELECTION_METRICS } from '../training/hyper.js';
import { choice, duration, int, intList, number } from './options.js';

export function withTrainingOptions(command: Command): Command {
  return command
    .option('--epochs <n>', `epochs (default ${SEED_RECIPE.epochs})`, int('epochs', 1))
    .option('--batch-size <n>', `batch size (default ${SEED_RECIPE.batchSize})`, int('batch-size', 1))
    .option('--image-size <px>', `input side (default ${SEED_RECIPE.imageSize})`, int('image-size', 16))
    .option('--lr <x>', `peak learning rate (default ${SEED_RECIPE.learningRate})`, number)
    .option('--weight-decay <x>', `AdamW weight decay (default ${SEED_RECIPE.weightDecay})`, number)
    .option('--mixup <p>', `share of the batches not cut-mixed that MixUp blends (default ${SEED_RECIPE.mixupProbability}: off)`, number)
    .option('--hidden-size <n>', `head hidden size (default ${SEED_RECIPE.hiddenSize})`, int('hidden-size', 1))
    .option('--cutmix <mode>', `${CUTMIX_MODES.join(' | ')} (default ${SEED_RECIPE.cutmix})`, choice(CUTMIX_MODES))
    .option('--cutmix-copies <n>', `mixed copies per image for offline CutMix (default ${SEED_RECIPE.cutmixCopies})`, int('cutmix-copies', 0))
    .option('--class-weighted', 'class-weighted loss')
    .option('--balanced-sampling', 'sample rare classes more often')
    .option('--logit-adjustment', 'logit-adjusted loss')
    .option('--seed <s>', 'random seed', int('seed', 0))
    .option('--device <device>', DEVICES.join(' | '), choice(DEVICES))
    .option('--precision <p>', PRECISIONS.join(' | '), choice(PRECISIONS))
    .option('--workers <n>', 'DataLoader workers (default: CUDA most cores, CPU none)', int('workers', 0))
    .option('--compile', 'torch.compile the training forward (torch 2.x)')
    .option('--max-steps <n>', 'stop each epoch after n steps', int('max-steps', 1))
    .option('--pretrained <source>', 'auto | imagenet | none | path to a state dict (default auto: cache, else download, else random init)')
    .option('--backbone-lr-multiplier <x>', 'backbone learning rate = lr x this (default 1)', number)
    .option('--freeze-backbone-steps <n>', 'steps with the backbone frozen at the start (default 0)', int('freeze-backbone-steps', 0))
    .option('--time-limit <s>', 'seconds before a run is stopped', int('time-limit', 1))
    .option(
      '--time-budget <duration>',
      'spend this long on each run, e.g. 30m, 90s, 2h: it measures this host and takes the side and the epochs that fit (at most --epochs)',
      duration,
    )
    .option(
      '--budget-sizes <px,...>',
      `sides a budget may choose from, up to --image-size (default ${BUDGET_IMAGE_SIZES.join(',')}): the largest at which --budget-min-epochs fit`,
      intList('budget-sizes', 16),
    )
    .option('--budget-min-epochs <n>', `epochs a larger side must leave room for (default ${SEED_RECIPE.budgetMinEpochs})`, int('budget-min-epochs', 1))
    .option('--label-smoothing <x>', `share of each label spread over every class (default ${SEED_RECIPE.labelSmoothing})`, number)
    .option('--no-flip', 'no horizontal flips (for labels that depend on orientation)')
    .option('--test-time-flip', 'validate and serve each image averaged with its mirror (model.json declares it; twice the compute)')
    .option('--no-keep-best', "export the last epoch's weights instead of the best epoch's")
    .option('--early-stopping <n>', 'stop after n epochs without a better validation figure (default 0: never)', int('early-stopping', 0))
    .option('--selection-metric <m>', `what epochs are ranked by: ${SELECTION_METRICS.join(' | ')} (default ${SEED_RECIPE.selectionMetric})`, (raw: string) =>
      choice(SELECTION_METRICS)(raw.toUpperCase().replace(/-/g, '_')),
    );
}

/** The parsed options as hyperparameter overrides (absent ones take the recipe's value). */
// biome-ignore lint/suspicious/noExplicitAny: commander's parsed options are untyped
export function hyperparametersOf(options: Record<string, any>): Partial<Hyperparameters> {
  return {
    epochs: options.epochs,
    batchSize: options.batchSize,
    imageSize: options.imageSize,
    learningRate: options.lr,
    weightDecay: options.weightDecay,
    mixupProbability: options.mixup,
    hiddenSize: options.hiddenSize,
    cutmix: options.cutmix,
    cutmixCopies: options.cutmixCopies,
    classWeightedLoss: options.classWeighted,
    balancedSampling: options.balancedSampling,
    logitAdjustment: options.logitAdjustment,
    seed: options.seed,
    device: options.device,
    mixedPrecision: options.precision,
    dataLoaderWorkers: options.workers,
    compile: options.compile,
    maxStepsPerEpoch: options.maxSteps,
    pretrained: options.pretrained,
    backboneLrMultiplier: options.backboneLrMultiplier,
    freezeBackboneSteps: options.freezeBackboneSteps,
    timeLimitSeconds: options.timeLimit,
    timeBudgetSeconds: options.timeBudget,
    budgetImageSizes: options.budgetSizes,
    budgetMinEpochs: options.budgetMinEpochs,
    labelSmoothing: options.labelSmoothing,
    horizontalFlip: options.flip,
    testTimeFlip: options.testTimeFlip,
    keepBestEpoch: options.keepBest,
    earlyStoppingPatience: options.earlyStopping,
    selectionMetric: options.selectionMetric,
  };
}

/** The distillation options `train` and `sweep` share. */
export function withTeacherOptions(command: Command): Command {
  return command
    .option('--teacher <ensembleId>', "distil: train on this ensemble's soft targets", int('teacher', 1))
    .option('--teacher-temperature <t>', 'distillation temperature (default 2)', number)
    .option('--teacher-alpha <a>', "weight of the teacher's term in the loss (default 0.5)", number);
}

/** The parsed distillation options as a teacher request (absent without --teacher). */
// biome-ignore lint/suspicious/noExplicitAny: commander's parsed options are untyped
export function teacherOf(options: Record<string, any>, compareWithoutTeacher: boolean) {
  return options.teacher
    ? { ensembleId: options.teacher as number, temperature: options.teacherTemperature, alpha: options.teacherAlpha, compareWithoutTeacher }
    : undefined;
}
