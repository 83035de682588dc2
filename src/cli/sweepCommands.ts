// fashion-how sweep, sweeps: hyperparameter sweeps started and followed here (on PostgreSQL, worker
// hosts take trials too), and a table of each sweep's trials with their rungs and the best one.
import { type Command, InvalidArgumentError } from 'commander';
import type { App } from '../app.js';
import type { Sweep } from '../db/generated/client.js';
import { f3 } from '../reports/metricsTable.js';
import { CUTMIX_MODES, type Hyperparameters, SELECTION_METRICS } from '../training/hyper.js';
import { type NumberRange, SWEEP_STRATEGIES, type SweepSpace } from '../training/sweep.js';
import { scoreOf } from '../training/sweepService.js';
import { table } from './format.js';
import { choice, int, list } from './options.js';
import { withApp } from './session.js';
import { followRuns } from './train.js';
import { hyperparametersOf, teacherOf, withTeacherOptions, withTrainingOptions } from './trainingOptions.js';

/** "1e-4:1e-2" -> { min, max }; `log` for the ranges drawn in log space. */
function range(log: boolean) {
  return (raw: string): NumberRange => {
    const [min, max, ...rest] = raw.split(':').map(Number);
    if (rest.length || !Number.isFinite(min) || !Number.isFinite(max)) throw new InvalidArgumentError(`expected MIN:MAX, e.g. 1e-4:1e-2, got "${raw}"`);
    return { min: min!, max: max!, log };
  };
}

/** A figure to three decimals, blank when there is none yet. */
const figure = (value: number | null) => (value === null ? '' : f3(value));

export async function sweepTable(app: App, sweep: Sweep): Promise<string> {
  const { sweeps } = app.services;
  const best = await sweeps.best(sweep);
  const trials = await sweeps.trials(sweep.id);
  const rows = trials.map(({ run, record }) => [
    record.index === best?.record.index ? `${record.index} *` : String(record.index),
    run.id,
    `${record.parameters.backbone}+${record.parameters.head}`,
    Object.entries(record.parameters.options)
      .map(([key, value]) => `${key} ${value}`)
      .join(', '),
    record.rungs.map((r) => `${r.epoch}: ${f3(r.value)} ${r.promoted ? 'on' : 'stop'} (${r.kept}/${r.competing.length})`).join('; '),
    run.status + (record.prunedAtEpoch !== null ? ` (pruned at ${record.prunedAtEpoch})` : ''),
    figure(scoreOf(run, sweep.metric)),
  ]);
  return [
    `sweep ${sweep.id}: ${sweep.strategy}, ${sweep.trialCount} trials, up to ${sweep.maxEpochs} epochs, judged by ${sweep.metric} on VALIDATION${best ? `; best: trial ${best.record.index} (run ${best.run.id})` : ''}`,
    table(['trial', 'run', 'combo', 'drawn', 'rungs (epoch: figure, kept/reached)', 'status', sweep.metric], rows),
  ].join('\n');
}

export function addSweepCommands(program: Command): void {
  withTeacherOptions(
    withTrainingOptions(
      program
        .command('sweep')
        .description('draw trials from a search space and train them (ASHA stops the losing ones at their rungs); follow them here')
        .requiredOption('--dataset <id>', 'dataset id', int('dataset', 1))
        .requiredOption('--trials <n>', 'trials to draw', int('trials', 1))
        .option('--backbone <name>', 'backbone of every trial unless --backbones', 'mobilenet_v3_small')
        .option('--head <name>', 'head of every trial unless --heads', 'feedforward')
        .option('--strategy <s>', `${SWEEP_STRATEGIES.join(' | ')} (default ASHA)`, (raw: string) => choice(SWEEP_STRATEGIES)(raw.toUpperCase()))
        .option('--min-epochs <n>', 'ASHA: epochs before the first rung (default 1)', int('min-epochs', 1))
        .option('--reduction-factor <n>', 'ASHA: 1 / the share of trials going on at each rung (default 3)', int('reduction-factor', 2))
        .option('--metric <m>', `${SELECTION_METRICS.join(' | ')} (default: the dataset's ranking metric)`, (raw: string) =>
          choice(SELECTION_METRICS)(raw.toUpperCase().replace(/-/g, '_')),
        )
        .option('--sweep-seed <s>', 'seed of the draws (default 1)', int('sweep-seed', 0))
        .option('--lr-range <min:max>', 'draw the learning rate (log scale)', range(true))
        .option('--weight-decay-range <min:max>', 'draw the weight decay (log scale)', range(true))
        .option('--label-smoothing-range <min:max>', 'draw label smoothing', range(false))
        .option('--mixup-range <min:max>', 'draw the share of batches MixUp blends', range(false))
        .option('--image-sizes <list>', 'choose the input side from these, e.g. 48,64,96', (raw: string) => list(raw).map(Number))
        .option('--cutmix-modes <list>', `choose CutMix from these (${CUTMIX_MODES.join(', ')})`, list)
        .option('--backbones <list>', 'choose the backbone from these', list)
        .option('--heads <list>', 'choose the head from these', list),
    ),
  ).action((options) =>
    withApp(async (app) => {
      const space: SweepSpace = {
        learningRate: options.lrRange,
        weightDecay: options.weightDecayRange,
        labelSmoothing: options.labelSmoothingRange,
        mixupProbability: options.mixupRange,
        imageSize: options.imageSizes,
        cutmix: options.cutmixModes as Hyperparameters['cutmix'][] | undefined,
        backbone: options.backbones,
        head: options.heads,
      };
      await app.services.training.startWorker();
      const sweep = await app.services.sweeps.start({
        datasetId: options.dataset,
        backbone: options.backbone,
        head: options.head,
        space: Object.fromEntries(Object.entries(space).filter(([, v]) => v !== undefined)),
        trials: options.trials,
        strategy: options.strategy,
        minEpochs: options.minEpochs,
        reductionFactor: options.reductionFactor,
        metric: options.metric,
        seed: options.sweepSeed,
        options: hyperparametersOf(options),
        teacher: teacherOf(options, false),
      });
      const trials = await app.services.sweeps.trials(sweep.id);
      console.log(`sweep ${sweep.id}: queued ${trials.length} trial(s), runs ${trials.map((t) => t.run.id).join(', ')}`);
      await followRuns(
        app,
        trials.map((t) => t.run),
      );
      console.log(`\n${await sweepTable(app, sweep)}`);
      if ((await app.services.sweeps.trials(sweep.id)).some((t) => t.run.status !== 'SUCCEEDED')) process.exitCode = 1;
    }),
  );

  program
    .command('sweeps')
    .description("list sweeps, or one sweep's trials with their rungs")
    .option('--dataset <id>', 'only this dataset', int('dataset', 1))
    .option('--id <id>', 'this sweep only, with its trials', int('id', 1))
    .action((options: { dataset?: number; id?: number }) =>
      withApp(async (app) => {
        const list = options.id ? [await app.services.sweeps.get(options.id)] : await app.services.sweeps.list(options.dataset);
        if (list.length === 0) console.log('no sweeps yet: try `fashion-how sweep --dataset 1 --trials 6 --epochs 9 --lr-range 1e-4:1e-2`');
        for (const sweep of list) console.log(`${await sweepTable(app, sweep)}\n`);
      }),
    );
}
