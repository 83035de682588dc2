// fashion-how predict, predictions: batch prediction jobs over a dataset (a prediction set or a labelled
// one), followed here and their tables written where the user asks.
import { copyFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { App } from '../app.js';
import type { PredictionJob } from '../db/generated/client.js';
import { SPLITS, type Split } from '../domain.js';
import { CANCELLABLE_STATUSES } from '../inference/predictionJobRecord.js';
import { TABLE_FORMATS, type TableFormat } from '../inference/predictionJobs.js';
import { table } from './format.js';
import { choice, int } from './options.js';
import { createProgress } from './progress.js';
import { withApp } from './session.js';

const seasonReasons = (job: PredictionJob) => (job.seasonReasons ?? []) as string[];

/** How the dataset's season judged the job's model when it was made: empty when it declared none. */
function seasonText(job: PredictionJob): string {
  if (job.seasonProfile === null) return '';
  return job.seasonOverridden ? `${job.seasonProfile}: OVERRIDDEN (${seasonReasons(job).join('; ')})` : `${job.seasonProfile}: accepted`;
}

/** Follows a job to its end with a progress line; writes its table to `out` when it succeeded. */
async function followJob(app: App, jobId: number, out: { file?: string; format: TableFormat }): Promise<void> {
  const { predictions } = app.services;
  const progress = createProgress(`prediction job ${jobId}`);
  let job = await predictions.get(jobId);
  while (CANCELLABLE_STATUSES.has(job.status)) {
    progress.update(job.itemsDone, job.itemCount);
    await new Promise((resolve) => setTimeout(resolve, 500));
    job = await predictions.get(jobId);
  }
  progress.update(job.itemsDone, job.itemCount);
  progress.stop();
  if (job.status !== 'SUCCEEDED') {
    console.error(`prediction job ${jobId} ${job.status}: ${job.error ?? ''}`);
    process.exitCode = 1;
    return;
  }
  const seconds = job.startedAt && job.finishedAt ? (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000 : null;
  console.log(
    `prediction job ${jobId} SUCCEEDED: ${job.itemCount} items by ${job.modelKind} ${job.modelId} ("${job.modelName}")` +
      (job.itemsPerSecond ? `, ${job.itemsPerSecond.toFixed(1)} items/s scoring` : '') +
      (seconds !== null ? `, ${seconds.toFixed(1)} s in all` : ''),
  );
  console.log(`csv sha256 ${job.csvSha256} (${job.csvBytes} bytes), jsonl sha256 ${job.jsonlSha256} (${job.jsonlBytes} bytes)`);
  if (out.file) {
    const { file } = await predictions.table(jobId, out.format);
    await copyFile(file, out.file);
    console.log(`wrote ${out.file}`);
  }
}

interface PredictOptions {
  dataset: number;
  model?: string;
  ensemble?: number;
  artifact?: number;
  split?: Split;
  ignoreSeason?: boolean;
  out?: string;
  format: TableFormat;
}

export function addPredictCommands(program: Command): void {
  program
    .command('predict')
    .description(
      "score every item of a dataset (a CSV without labels imports as one) with a model, as a job on the queue; the table (CSV or JSON lines, in the CSV's order) goes to the artifact store and --out",
    )
    .requiredOption('--dataset <id>', 'dataset id', int('dataset', 1))
    .option('--model <alias>', 'an alias: champion (the default), challenger, ...')
    .option('--ensemble <id>', 'an ensemble instead of an alias', int('ensemble', 1))
    .option('--artifact <id>', 'one artifact instead of an alias', int('artifact', 1))
    .option('--split <split>', `only this split's items: ${SPLITS.join(' | ')} (default every item)`, choice(SPLITS))
    .option('--ignore-season', "score with a model the dataset's season rejects (the job records the override)")
    .option('--out <file>', 'write the finished table here')
    .option('--format <format>', `the table written to --out: ${TABLE_FORMATS.join(' | ')}`, choice(TABLE_FORMATS), 'csv')
    .action((options: PredictOptions) =>
      withApp(async (app) => {
        // With PostgreSQL this process is a worker of the queue while it waits (worker hosts may take the job too).
        await app.services.predictions.startWorker();
        const job = await app.services.predictions.create({
          datasetId: options.dataset,
          model: options.model,
          ensembleId: options.ensemble,
          artifactId: options.artifact,
          split: options.split,
          ignoreSeason: options.ignoreSeason === true,
        });
        console.log(
          `prediction job ${job.id} queued: ${job.itemCount} items of dataset ${job.datasetId} by ${job.modelKind} ${job.modelId} ("${job.modelName}")`,
        );
        if (job.seasonOverridden) console.warn(`season ${job.seasonProfile} rejects it, overridden: ${seasonReasons(job).join('; ')}`);
        await followJob(app, job.id, options);
      }),
    );

  const jobs = program.command('predictions').description('batch prediction jobs: list, resume, cancel, download');
  jobs
    .command('list', { isDefault: true })
    .option('--dataset <id>', 'only this dataset', int('dataset', 1))
    .action((options: { dataset?: number }) =>
      withApp(async (app) => {
        const rows = await app.services.predictions.list({ datasetId: options.dataset });
        console.log(
          table(
            ['id', 'dataset', 'model', 'season', 'status', 'items', 'items/s', 'created'],
            rows.map((j) => [
              j.id,
              j.datasetId,
              `${j.alias ? `${j.alias} = ` : ''}${j.modelKind} ${j.modelId}`,
              seasonText(j),
              j.status,
              `${j.itemsDone}/${j.itemCount}`,
              j.itemsPerSecond?.toFixed(1) ?? '',
              j.createdAt.toISOString(),
            ]),
          ),
        );
      }),
    );
  jobs
    .command('resume')
    .description('queue a stopped job again and follow it: it scores only the items it has not stored')
    .argument('<id>', 'job id', int('id', 1))
    .option('--out <file>', 'write the finished table here')
    .option('--format <format>', `the table written to --out: ${TABLE_FORMATS.join(' | ')}`, choice(TABLE_FORMATS), 'csv')
    .action((id: number, options: { out?: string; format: TableFormat }) =>
      withApp(async (app) => {
        await app.services.predictions.startWorker();
        await app.services.predictions.resume(id);
        await followJob(app, id, { file: options.out, format: options.format });
      }),
    );
  jobs
    .command('cancel')
    .argument('<id>', 'job id', int('id', 1))
    .action((id: number) =>
      withApp(async (app) => {
        const job = await app.services.predictions.cancel(id);
        console.log(`prediction job ${id} ${job.status} after ${job.itemsDone} of ${job.itemCount} items`);
      }),
    );
  jobs
    .command('download')
    .argument('<id>', 'job id', int('id', 1))
    .requiredOption('--out <file>', 'where to write the table')
    .option('--format <format>', TABLE_FORMATS.join(' | '), choice(TABLE_FORMATS), 'csv')
    .action((id: number, options: { out: string; format: TableFormat }) =>
      withApp(async (app) => {
        const { file, bytes } = await app.services.predictions.table(id, options.format);
        await copyFile(file, options.out);
        console.log(`wrote ${options.out} (${bytes} bytes)`);
      }),
    );
}
