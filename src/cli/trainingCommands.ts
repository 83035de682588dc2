// fashion-how train, runs, worker: training runs, followed here or taken from the job queue.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { PROCESS_ID } from '../host.js';
import { RUN_STATUSES, type RunStatus } from '../jobs/statuses.js';
import { RACE_PRESETS } from '../training/race.js';
import { choice, gpuList, int, list, number } from './options.js';
import { followRace } from './race.js';
import { untilSignal, withApp } from './session.js';
import { describeCrossValidation, describeDistillation, followRuns, runsTable } from './train.js';
import { hyperparametersOf, teacherOf, withTeacherOptions, withTrainingOptions } from './trainingOptions.js';

export function addTrainingCommands(program: Command): void {
  withTeacherOptions(
    withTrainingOptions(
      program
        .command('train')
        .description(
          'train every backbone x head combination on a dataset, one run each, and follow them here; with --time-budget and no backbones, race a portfolio of candidates in that time',
        )
        .requiredOption('--dataset <id>', 'dataset id', int('dataset', 1))
        .option('--backbones <list>', 'comma-separated backbones, e.g. resnet18,densenet121 (none, with --time-budget: a race)', list)
        .option('--heads <list>', 'comma-separated heads: feedforward, residual (default feedforward)', list)
        .option(
          '--preset <name>',
          `a race's portfolio: ${RACE_PRESETS.join(' | ')} (default best; compliant keeps to one model under --size-limit MB)`,
          choice(RACE_PRESETS),
        )
        .option('--size-limit <mb>', "the compliant preset's model size limit in MB (default: the dataset's season profile's, 25 for 2024-subtask1)", number)
        .option('--folds <k>', 'k-fold cross-validation: k runs per combo, out-of-fold predictions, the fold models as one ensemble', int('folds', 2)),
    ),
  )
    .option('--no-baseline', 'with --teacher: do not also train each combo without the teacher')
    .action((options) =>
      withApp(async (app) => {
        const hyper = hyperparametersOf(options);
        const teacher = teacherOf(options, options.baseline);
        // With PostgreSQL this process is a worker of the queue while it waits (worker hosts may take runs too).
        await app.services.training.startWorker();
        if (!options.backbones) {
          if (!hyper.timeBudgetSeconds)
            throw new InvalidArgumentError('name --backbones (and --heads), or give a --time-budget to race a portfolio of candidates');
          const { timeBudgetSeconds, ...recipe } = hyper;
          const sweep = await app.services.races.start({
            datasetId: options.dataset,
            budgetSeconds: timeBudgetSeconds,
            preset: options.preset,
            sizeLimitMb: options.sizeLimit,
            options: recipe,
          });
          console.log(`race ${sweep.id} started`);
          const race = await followRace(app, sweep.id);
          if (race.status !== 'SUCCEEDED') process.exitCode = 1;
          return;
        }
        const runs = await app.services.training.startTraining({
          datasetId: options.dataset,
          backbones: options.backbones,
          heads: options.heads ?? ['feedforward'],
          options: hyper,
          teacher,
          folds: options.folds,
        });
        console.log(`queued ${runs.length} run(s): ${runs.map((r) => `${r.id} ${r.backbone}+${r.head}`).join(', ')}`);
        const finished = await followRuns(app, runs);
        console.log(`\n${runsTable(finished)}`);
        await app.services.distillation.settled();
        for (const run of finished) {
          const described = describeDistillation(await app.services.training.get(run.id));
          if (described) console.log(`\n${described}`);
        }
        for (const id of new Set(finished.map((r) => r.crossValidationId).filter((id) => id !== null)))
          console.log(`\n${await describeCrossValidation(app, id)}`);
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
        // Batch prediction jobs too: they score on this host's CPU (or ONNX Runtime's device), one at a time.
        await app.services.predictions.startWorker();
        console.log(
          `worker ${PROCESS_ID}: taking training jobs (concurrency ${slots.concurrency}${slots.gpus.length ? `, GPUs ${slots.gpus.join(',')}` : ''})`,
        );
        await untilSignal();
        console.log(`worker ${PROCESS_ID}: stopping; running jobs become INTERRUPTED and can be resumed`);
      }),
    );
}
