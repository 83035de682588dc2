// fashion-how train, runs, worker: training runs, followed here or taken from the job queue.
import type { Command } from 'commander';
import { PROCESS_ID } from '../host.js';
import { CUTMIX_MODES, DEVICES, type Hyperparameters, PRECISIONS, SEED_RECIPE, SELECTION_METRICS } from '../training/hyper.js';
import { RUN_STATUSES, type RunStatus } from '../training/runRecord.js';
import { choice, duration, gpuList, int, list, number } from './options.js';
import { untilSignal, withApp } from './session.js';
import { describeDistillation, followRuns, runsTable } from './train.js';

export function addTrainingCommands(program: Command): void {
  program
    .command('train')
    .description('train every backbone x head combination on a dataset, one run each, and follow them here')
    .requiredOption('--dataset <id>', 'dataset id', int('dataset', 1))
    .requiredOption('--backbones <list>', 'comma-separated backbones, e.g. resnet18,densenet121', list)
    .requiredOption('--heads <list>', 'comma-separated heads: feedforward, residual', list)
    .option('--epochs <n>', `epochs (default ${SEED_RECIPE.epochs})`, int('epochs', 1))
    .option('--batch-size <n>', `batch size (default ${SEED_RECIPE.batchSize})`, int('batch-size', 1))
    .option('--image-size <px>', `input side (default ${SEED_RECIPE.imageSize})`, int('image-size', 16))
    .option('--lr <x>', `peak learning rate (default ${SEED_RECIPE.learningRate})`, number)
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
      'spend this long on each run, e.g. 30m, 90s, 2h: it measures this host and takes the epochs that fit (at most --epochs)',
      duration,
    )
    .option('--label-smoothing <x>', `share of each label spread over every class (default ${SEED_RECIPE.labelSmoothing})`, number)
    .option('--no-flip', 'no horizontal flips (for labels that depend on orientation)')
    .option('--no-keep-best', "export the last epoch's weights instead of the best epoch's")
    .option('--early-stopping <n>', 'stop after n epochs without a better validation figure (default 0: never)', int('early-stopping', 0))
    .option('--selection-metric <m>', `what epochs are ranked by: ${SELECTION_METRICS.join(' | ')} (default ${SEED_RECIPE.selectionMetric})`, (raw: string) =>
      choice(SELECTION_METRICS)(raw.toUpperCase().replace(/-/g, '_')),
    )
    .option('--teacher <ensembleId>', "distil: train each combo on this ensemble's soft targets", int('teacher', 1))
    .option('--teacher-temperature <t>', 'distillation temperature (default 2)', number)
    .option('--teacher-alpha <a>', "weight of the teacher's term in the loss (default 0.5)", number)
    .option('--no-baseline', 'with --teacher: do not also train each combo without the teacher')
    .action((options) =>
      withApp(async (app) => {
        const hyper: Partial<Hyperparameters> = {
          epochs: options.epochs,
          batchSize: options.batchSize,
          imageSize: options.imageSize,
          learningRate: options.lr,
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
          labelSmoothing: options.labelSmoothing,
          horizontalFlip: options.flip,
          keepBestEpoch: options.keepBest,
          earlyStoppingPatience: options.earlyStopping,
          selectionMetric: options.selectionMetric,
        };
        const teacher = options.teacher
          ? { ensembleId: options.teacher, temperature: options.teacherTemperature, alpha: options.teacherAlpha, compareWithoutTeacher: options.baseline }
          : undefined;
        // With PostgreSQL this process is a worker of the queue while it waits (worker hosts may take runs too).
        await app.services.training.startWorker();
        const runs = await app.services.training.startTraining({
          datasetId: options.dataset,
          backbones: options.backbones,
          heads: options.heads,
          options: hyper,
          teacher,
        });
        console.log(`queued ${runs.length} run(s): ${runs.map((r) => `${r.id} ${r.backbone}+${r.head}`).join(', ')}`);
        const finished = await followRuns(app, runs);
        console.log(`\n${runsTable(finished)}`);
        await app.services.distillation.settled();
        for (const run of finished) {
          const described = describeDistillation(await app.services.training.get(run.id));
          if (described) console.log(`\n${described}`);
        }
        if (finished.some((r) => r.status !== 'SUCCEEDED')) process.exitCode = 1;
      }),
    );

  program
    .command('runs')
    .description('list training runs')
    .option('--status <list>', `only these statuses (${RUN_STATUSES.join(', ')})`, (raw: string) => list(raw.toUpperCase()) as RunStatus[])
    .option('--dataset <id>', 'only this dataset', int('dataset', 1))
    .action((options: { status?: RunStatus[]; dataset?: number }) =>
      withApp(async (app) => {
        const runs = await app.services.training.list({ status: options.status, datasetId: options.dataset });
        console.log(
          runs.length ? runsTable(runs) : 'no training runs yet: try `fashion-how train --dataset 1 --backbones mobilenet_v3_small --heads feedforward`',
        );
      }),
    );

  program
    .command('worker')
    .description('with PostgreSQL: take training jobs from its job queue and run them on this host, one per GPU, until stopped')
    .option('--gpus <list>', "CUDA devices to use, one job on each, e.g. 0,1 (default: none, CPU or torch's default device)", gpuList)
    .option('--concurrency <n>', 'jobs at once (default: one per listed GPU, else FASHION_HOW_TRAINING_CONCURRENCY or 1)', int('concurrency', 1))
    .action((options: { gpus?: number[]; concurrency?: number }) =>
      withApp(async (app) => {
        const { training } = app.services;
        if (!training.distributed)
          throw new Error('fashion-how worker needs PostgreSQL: set DATABASE_URL=postgresql://user@host:5432/db (the same database the servers use)');
        if (options.gpus && options.concurrency && options.concurrency !== options.gpus.length) {
          throw new Error(`--concurrency ${options.concurrency} differs from the ${options.gpus.length} GPUs in --gpus: a job per GPU`);
        }
        const slots = (await training.startWorker({ gpus: options.gpus, concurrency: options.concurrency }))!;
        console.log(
          `worker ${PROCESS_ID}: taking training jobs (concurrency ${slots.concurrency}${slots.gpus.length ? `, GPUs ${slots.gpus.join(',')}` : ''})`,
        );
        await untilSignal();
        console.log(`worker ${PROCESS_ID}: stopping; running jobs become INTERRUPTED and can be resumed`);
      }),
    );
}
