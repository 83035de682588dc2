// Every training option declared once: its type, default, range, description and the surfaces that show
// it. hyper.ts validates requests against this table, the CLI's flags are built from it
// (cli/trainingOptions.ts), and `npm run generate` writes from it the GraphQL inputs `TrainingOptions` and
// `TrainingBudgetInput` in schema.graphql and the worker's typed config (worker/training_options.json,
// read by worker/hyper.py). test/training/options.test.ts fails when any surface disagrees with it.
import { RANKING_METRICS } from '../domain.js';

export const CUTMIX_MODES = ['off', 'online', 'offline'] as const;
export const DEVICES = ['auto', 'cpu', 'cuda'] as const;
export const PRECISIONS = ['auto', 'off', 'bf16', 'fp16'] as const;
export const LR_SCHEDULES = ['linear', 'cosine', 'onecycle'] as const;
/** What epochs are ranked by on VALIDATION: by default the dataset's ranking metric. */
export const SELECTION_METRICS = RANKING_METRICS;
/** The input sides a time budget chooses from when the request names none (those up to imageSize). */
export const BUDGET_IMAGE_SIZES = [64, 96, 128, 160, 192, 224];

/** Which GraphQL input shows an option, under which field name. */
type GraphqlSurface = { input: 'TrainingOptions' | 'TrainingBudgetInput'; field?: string; required?: boolean };

/** The CLI flag of an option (commander syntax, e.g. "--lr <x>" or "--no-flip"); how its value is parsed
 *  follows from the option's kind, except a duration's. */
interface CliSurface {
  flags: string;
  /** Help text when the description does not read well as one. */
  help?: string;
  /** The value is a duration ("30m", "90s") in seconds. */
  duration?: boolean;
}

interface Common {
  description: string;
  graphql?: GraphqlSurface;
  cli?: CliSurface;
  /** How the default reads in help and schema text, when its value alone would mislead. */
  defaultText?: string;
}

export interface IntOption<T extends number | null = number> extends Common {
  kind: 'int';
  default: T;
  min: number;
  max: number;
  /** null is a value (absent: the worker's choice). */
  nullable: T extends null ? true : false;
}
export interface FloatOption extends Common {
  kind: 'float';
  default: number;
  min: number;
  max: number;
}
export interface FlagOption extends Common {
  kind: 'flag';
  default: boolean;
}
export interface ChoiceOption<T extends string = string> extends Common {
  kind: 'choice';
  default: T;
  values: readonly T[];
  /** The GraphQL enum that shows it (its values upper-cased); absent: a String. */
  graphqlEnum?: string;
}
export interface TextOption extends Common {
  kind: 'text';
  default: string;
}
export interface IntListOption extends Common {
  kind: 'intList';
  default: number[];
  min: number;
  max: number;
  maxLength: number;
}
export type TrainingOption = IntOption<number> | IntOption<number | null> | FloatOption | FlagOption | ChoiceOption | TextOption | IntListOption;

const int = (description: string, d: number, min: number, max: number, surfaces: Omit<Common, 'description'> = {}): IntOption<number> => ({
  kind: 'int',
  description,
  default: d,
  min,
  max,
  nullable: false,
  ...surfaces,
});
const optionalInt = (description: string, min: number, max: number, surfaces: Omit<Common, 'description'> = {}): IntOption<number | null> => ({
  kind: 'int',
  description,
  default: null,
  min,
  max,
  nullable: true,
  ...surfaces,
});
const float = (description: string, d: number, min: number, max: number, surfaces: Omit<Common, 'description'> = {}): FloatOption => ({
  kind: 'float',
  description,
  default: d,
  min,
  max,
  ...surfaces,
});
const flag = (description: string, d: boolean, surfaces: Omit<Common, 'description'> = {}): FlagOption => ({
  kind: 'flag',
  description,
  default: d,
  ...surfaces,
});
const oneOf = <T extends string>(
  description: string,
  d: T,
  values: readonly T[],
  surfaces: Omit<Common, 'description'> & { graphqlEnum?: string } = {},
): ChoiceOption<T> => ({ kind: 'choice', description, default: d, values, ...surfaces });
const options = { input: 'TrainingOptions' } as const;

/** The seed's recipe as defaults, with the additions measured since (docs/training.md). Order is the
 *  GraphQL input's field order. */
export const TRAINING_OPTIONS = {
  epochs: int('Passes over the training split', 3, 1, 1000, { graphql: options, cli: { flags: '--epochs <n>' } }),
  batchSize: int('Images per step', 64, 1, 4096, { graphql: options, cli: { flags: '--batch-size <n>' } }),
  imageSize: int('Side of the square network input in pixels', 224, 16, 1024, { graphql: options, cli: { flags: '--image-size <px>' } }),
  learningRate: float('Peak AdamW learning rate', 1e-3, 1e-8, 1, { graphql: options, cli: { flags: '--lr <x>' } }),
  weightDecay: float('AdamW weight decay', 1e-4, 0, 1, { graphql: options, cli: { flags: '--weight-decay <x>' } }),
  warmupFraction: float('Share of the steps with a linear warmup; linear decay after it', 0.05, 0, 1, { graphql: options, cli: { flags: '--warmup <x>' } }),
  lrSchedule: oneOf(
    'The learning-rate schedule: linear (warmup, then linear decay to 0), cosine (warmup, then cosine decay to 0) or onecycle (cosine up from lr/25 over the first 30 % of the steps, cosine down to lr/250,000)',
    'linear',
    LR_SCHEDULES,
    { graphql: options, cli: { flags: '--lr-schedule <kind>' } },
  ),
  emaDecay: float(
    'Decay of an exponential moving average of the weights (with warm-up: min(decay, (1 + n) / (10 + n)) after n steps); each epoch validates both copies and the better one is kept and exported (0: off)',
    0,
    0,
    0.99999,
    { graphql: options, cli: { flags: '--ema <decay>' } },
  ),
  hiddenSize: int("Width of each head's hidden layer", 512, 1, 65536, { graphql: options, cli: { flags: '--hidden-size <n>' } }),
  dropout: float('Dropout before each head', 0.2, 0, 0.99, { graphql: options, cli: { flags: '--dropout <x>' } }),
  cutmix: oneOf('The CutMix variant', 'offline', CUTMIX_MODES, { graphql: options, graphqlEnum: 'CutMixMode', cli: { flags: '--cutmix <mode>' } }),
  cutmixAlpha: float('Beta distribution parameter of the CutMix box area', 1, 0.01, 100, { graphql: options, cli: { flags: '--cutmix-alpha <x>' } }),
  cutmixProbability: float('Probability that a batch is mixed under online CutMix', 0.5, 0, 1, {
    graphql: options,
    cli: { flags: '--cutmix-probability <p>' },
  }),
  cutmixCopies: int('Mixed copies per image and epoch under offline CutMix', 4, 0, 32, { graphql: options, cli: { flags: '--cutmix-copies <n>' } }),
  mixupProbability: float(
    'Share of the training batches not cut-mixed that MixUp blends with a shuffled copy of themselves, labels blended alike (0: off)',
    0,
    0,
    1,
    { graphql: options, cli: { flags: '--mixup <p>' } },
  ),
  mixupAlpha: float("Beta distribution parameter of MixUp's blending weight", 0.2, 0.01, 100, { graphql: options, cli: { flags: '--mixup-alpha <x>' } }),
  classWeightedLoss: flag("Weight each class's loss by its inverse frequency", false, { graphql: options, cli: { flags: '--class-weighted' } }),
  balancedSampling: flag('Draw training batches with equal chances per class', false, { graphql: options, cli: { flags: '--balanced-sampling' } }),
  logitAdjustment: flag('Train with logit-adjusted loss against the class priors', false, { graphql: options, cli: { flags: '--logit-adjustment' } }),
  seed: int('Seed of initialisation, shuffling and augmentation', 1, 0, 2 ** 31 - 1, { graphql: options, cli: { flags: '--seed <s>' } }),
  device: oneOf('Where to train (auto: CUDA when torch sees a device)', 'auto', DEVICES, {
    graphql: options,
    cli: { flags: '--device <device>' },
  }),
  mixedPrecision: oneOf('Autocast precision on CUDA (auto: bf16 where the GPU has it, else fp16)', 'auto', PRECISIONS, {
    graphql: options,
    cli: { flags: '--precision <p>' },
  }),
  dataLoaderWorkers: optionalInt('DataLoader processes feeding the step', 0, 64, {
    defaultText: "the worker's choice; CUDA: most cores, CPU: none, which measured fastest on cached pixels",
    graphql: options,
    cli: { flags: '--workers <n>' },
  }),
  channelsLast: flag('Train in channels-last memory format on CUDA (faster convolutions on tensor cores); ignored on CPU', true),
  compile: flag('Use torch.compile on the training forward (torch 2.x only); checkpoints, resume and the ONNX export use the eager model', false, {
    graphql: options,
    cli: { flags: '--compile' },
  }),
  bnCalibrationImages: int('Training images over which BatchNorm statistics are recomputed after each epoch (precise BN; 0: off)', 1024, 0, 1_000_000, {
    graphql: options,
    cli: { flags: '--bn-calibration-images <n>' },
  }),
  threads: int("Torch threads (0: torch's own choice)", 0, 0, 1024, { graphql: options, cli: { flags: '--threads <n>' } }),
  maxStepsPerEpoch: optionalInt('Stop each epoch after this many steps (quick experiments)', 1, 10_000_000, {
    defaultText: 'every batch',
    graphql: options,
    cli: { flags: '--max-steps <n>' },
  }),
  pretrained: {
    kind: 'text',
    description:
      'Starting weights: auto (weights cache, else download, else random init with a warning), imagenet (cache, else download, else fail), none, or a path to a state dict on the training host',
    default: 'auto',
    graphql: options,
    cli: { flags: '--pretrained <source>' },
  } satisfies TextOption as TextOption,
  backboneLrMultiplier: float('The backbone learns at learningRate x this: fine-tune pretrained weights more gently than the new heads', 1, 0, 10, {
    graphql: options,
    cli: { flags: '--backbone-lr-multiplier <x>' },
  }),
  freezeBackboneSteps: int('Steps at the start with the backbone frozen, only the heads learning', 0, 0, 10_000_000, {
    graphql: options,
    cli: { flags: '--freeze-backbone-steps <n>' },
  }),
  timeLimitSeconds: int('Wall-clock limit of one attempt in seconds; past it the run FAILED', 24 * 3600, 1, 30 * 24 * 3600, {
    defaultText: '86400; with a budget 1.25 x it + 60 s',
    graphql: options,
    cli: { flags: '--time-limit <s>' },
  }),
  labelSmoothing: float('Share of each label spread over every class (label smoothing; 0.1 measured no better than 0 on the realistic benchmark)', 0, 0, 0.5, {
    graphql: options,
    cli: { flags: '--label-smoothing <x>' },
  }),
  randomShift: float(
    "Largest shift of each training image, as a share of its side, in each direction (the practitioner's +-4 px at 32 px is 0.125); the edge is filled with the letterbox colour (0: off)",
    0,
    0,
    0.5,
    { graphql: options, cli: { flags: '--random-shift <share>' } },
  ),
  randomErasing: float('Share of the training images in which a random rectangle (2-33 % of the area) is erased to the mean colour (0: off)', 0, 0, 1, {
    graphql: options,
    cli: { flags: '--random-erasing <p>' },
  }),
  smallInputStem: flag(
    "The torchvision ResNets with a small-input stem: a stride-1 3x3 conv1 and no max-pool, so small crops keep their detail (ImageNet's conv1 is then not loaded)",
    false,
    { graphql: options, cli: { flags: '--small-stem' } },
  ),
  horizontalFlip: flag('Mirror half of each training batch left to right; turn it off when a label depends on orientation', true, {
    graphql: options,
    cli: { flags: '--no-flip', help: 'no horizontal flips (for labels that depend on orientation)' },
  }),
  testTimeFlip: flag(
    "Test-time flip averaging: validation, reports and serving average each image's probabilities with its mirror's (twice the compute); model.json declares it",
    false,
    { graphql: options, cli: { flags: '--test-time-flip' } },
  ),
  keepBestEpoch: flag("The artifact holds the best epoch's weights by selectionMetric on VALIDATION, not the last epoch's", true, {
    graphql: options,
    cli: { flags: '--no-keep-best', help: "export the last epoch's weights instead of the best epoch's" },
  }),
  earlyStoppingPatience: int('Stop after this many epochs without a better validation figure (0: never)', 0, 0, 1000, {
    graphql: options,
    cli: { flags: '--early-stopping <n>' },
  }),
  selectionMetric: oneOf('What epochs are ranked by on VALIDATION', 'MEAN_TOP1', SELECTION_METRICS, {
    defaultText: "the dataset's ranking metric",
    graphql: options,
    graphqlEnum: 'RankingMetric',
    cli: { flags: '--selection-metric <m>' },
  }),
  timeBudgetSeconds: optionalInt("Seconds per run, counted from the worker's start (image preparation included)", 10, 7 * 24 * 3600, {
    defaultText: 'no budget',
    graphql: { input: 'TrainingBudgetInput', field: 'seconds', required: true },
    cli: {
      flags: '--time-budget <duration>',
      duration: true,
      help: 'spend this long on each run, e.g. 30m, 90s, 2h: it measures this host and takes the side and the epochs that fit (at most --epochs)',
    },
  }),
  budgetImageSizes: {
    kind: 'intList',
    description:
      'The input sides a budgeted run may train at, up to imageSize (which is always one of them); a probe takes the largest at which budgetMinEpochs epochs fit',
    default: BUDGET_IMAGE_SIZES,
    min: 16,
    max: 1024,
    maxLength: 12,
    graphql: { input: 'TrainingBudgetInput', field: 'imageSizes' },
    cli: { flags: '--budget-sizes <px,...>' },
  } satisfies IntListOption as IntListOption,
  budgetMinEpochs: int(
    'With a budget: the epochs a larger side must still leave room for (at most epochs); on the realistic benchmark 49 epochs at 64 px beat 14 at 160 px in the same 30 minutes',
    30,
    1,
    1000,
    { graphql: { input: 'TrainingBudgetInput', field: 'minEpochs' }, cli: { flags: '--budget-min-epochs <n>' } },
  ),
} satisfies Record<string, TrainingOption>;

type Options = typeof TRAINING_OPTIONS;
export type OptionName = keyof Options;
type ValueOf<O> =
  O extends ChoiceOption<infer T>
    ? T
    : O extends IntOption<infer N>
      ? N
      : O extends FloatOption
        ? number
        : O extends FlagOption
          ? boolean
          : O extends IntListOption
            ? number[]
            : string;

/** A run's resolved hyperparameters: one value per declared option. */
export type Hyperparameters = { -readonly [K in OptionName]: ValueOf<Options[K]> };

export const OPTION_NAMES = Object.keys(TRAINING_OPTIONS) as OptionName[];

/** The declared defaults: the seed's recipe and the additions measured since. */
export const DEFAULTS = Object.fromEntries(
  OPTION_NAMES.map((name) => {
    const value = TRAINING_OPTIONS[name].default;
    return [name, Array.isArray(value) ? [...value] : value];
  }),
) as Hyperparameters;

export const optionOf = (name: OptionName): TrainingOption => TRAINING_OPTIONS[name];

/** The default as help and schema text show it. */
export function defaultText(option: TrainingOption): string {
  if (option.defaultText) return option.defaultText;
  if (Array.isArray(option.default)) return option.default.join(', ');
  return String(option.default);
}

/** The values an option accepts, in words: "an integer from 1 to 1000", "one of off, online, offline". */
export function rangeText(option: TrainingOption): string {
  switch (option.kind) {
    case 'int':
      return `an integer from ${option.min} to ${option.max}${option.nullable ? ', or null' : ''}`;
    case 'float':
      return `a number from ${option.min} to ${option.max}`;
    case 'flag':
      return 'true or false';
    case 'choice':
      return `one of ${option.values.join(', ')}`;
    case 'text':
      return 'a non-empty string';
    case 'intList':
      return `1 to ${option.maxLength} integers from ${option.min} to ${option.max}`;
    default: {
      const unknown: never = option;
      return unknown;
    }
  }
}

/** Why `value` is not a valid value of the option, or null when it is. */
export function problemOf(name: OptionName, value: unknown): string | null {
  const option = optionOf(name);
  const shown = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
  const bad = `${name} must be ${rangeText(option)}, got ${shown}`;
  switch (option.kind) {
    case 'int':
      if (value === null && option.nullable) return null;
      return typeof value === 'number' && Number.isInteger(value) && value >= option.min && value <= option.max ? null : bad;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) && value >= option.min && value <= option.max ? null : bad;
    case 'flag':
      return typeof value === 'boolean' ? null : bad;
    case 'choice':
      return typeof value === 'string' && option.values.includes(value) ? null : bad;
    case 'text':
      return typeof value === 'string' && value !== '' ? null : bad;
    case 'intList':
      return Array.isArray(value) &&
        value.length >= 1 &&
        value.length <= option.maxLength &&
        value.every((v) => Number.isInteger(v) && v >= option.min && v <= option.max)
        ? null
        : bad;
    default: {
      const unknown: never = option;
      return unknown;
    }
  }
}
