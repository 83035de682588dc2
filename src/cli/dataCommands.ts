// fashion-how synth, import, upload, datasets, dataset: data in (local files, or a folder sent to a server), and what it holds.
import { type Command, InvalidArgumentError } from 'commander';
import type { App } from '../app.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_VALIDATION_FRACTION, type ImportOutcome, importDataset, RANKING_METRICS, type RankingMetric } from '../data/import.js';
import { DEFAULT_LABEL_SCHEMA } from '../data/labelSchema.js';
import { DEFAULT_REALISTIC_LABEL_NOISE, SYNTH_DIFFICULTIES, type SynthDifficulty, writeSyntheticDataset } from '../data/synth.js';
import { SPLITS, type Split } from '../domain.js';
import { percent } from '../reports/metricsTable.js';
import { FashionHowClient } from '../sdk/index.js';
import { table } from './format.js';
import { choice, fraction, int } from './options.js';
import { createProgress } from './progress.js';
import { withApp } from './session.js';

async function synth(options: {
  out: string;
  count: number;
  seed: number;
  minSide: number;
  maxSide: number;
  difficulty: SynthDifficulty;
  labelNoise?: number;
}) {
  const progress = createProgress('synth');
  const result = await writeSyntheticDataset({ ...options, onProgress: (done, total) => progress.update(done, total) });
  progress.stop();
  console.log(`wrote ${result.rows.length} images under ${result.imageRoot}`);
  console.log(`wrote ${result.csvPath}`);
  if (result.labelNoise > 0 || result.difficulty !== 'standard') {
    const tasks = DEFAULT_LABEL_SCHEMA.tasks;
    console.log(`${result.difficulty} difficulty, label noise ${percent(result.labelNoise)} per task: the best any model can reach (noise ceiling) is`);
    console.log(
      table(
        ['task', 'top-1', 'ACSA'],
        result.ceiling.map((c) => [tasks[c.task]!.name, c.top1.toFixed(3), c.acsa.toFixed(3)]),
      ),
    );
  }
  return result;
}

interface ImportOptions {
  images?: string;
  name?: string;
  schema?: string;
  skipInvalid?: boolean;
  seed: number;
  validationFraction: number;
  testFraction: number;
  rankingMetric?: RankingMetric;
}

async function runImport(app: App, csv: string, options: ImportOptions): Promise<ImportOutcome> {
  const progress = createProgress('validate');
  const outcome = await importDataset(
    {
      csvPath: csv,
      imageRoot: options.images,
      name: options.name,
      labelSchemaPath: options.schema,
      skipInvalid: options.skipInvalid,
      splitSeed: options.seed,
      validationFraction: options.validationFraction,
      testFraction: options.testFraction,
      rankingMetric: options.rankingMetric,
    },
    {
      ...app.services.importContext,
      onProgress: (p) => {
        if (p.phase === 'validate') progress.update(p.done, p.total);
        else if (p.phase === 'store' && p.done === 0) console.error(`storing ${p.total} items in one transaction`);
      },
    },
  );
  progress.stop();
  if (!outcome.created) {
    console.log(
      `this content was imported before (digest ${outcome.contentSha256.slice(0, 12)}): dataset ${outcome.datasetId} (version ${outcome.version}), ${outcome.itemCount} items; nothing new stored`,
    );
    return outcome;
  }
  console.log(
    `imported dataset ${outcome.datasetId}, version ${outcome.version} (digest ${outcome.contentSha256.slice(0, 12)}): ${outcome.itemCount} items in ${(outcome.durationMs / 1000).toFixed(1)} s`,
  );
  if (outcome.rejects.length > 0) {
    console.log(`skipped ${outcome.rejects.length} invalid rows (kept as rejects):`);
    for (const r of outcome.rejects.slice(0, 20)) console.log(`  line ${r.line}: ${r.reason}`);
  }
  return outcome;
}

interface UploadOptions {
  csv?: string;
  images?: string;
  name?: string;
  skipInvalid?: boolean;
  seed: number;
  validationFraction: number;
  testFraction: number;
}

async function upload(source: string, options: UploadOptions) {
  const client = new FashionHowClient();
  let progress: ReturnType<typeof createProgress> | undefined;
  let phase = '';
  const result = await client.uploadDataset(
    source,
    {
      csv: options.csv,
      imageFolder: options.images,
      name: options.name,
      skipInvalid: options.skipInvalid ?? false,
      splitSeed: options.seed,
      validationFraction: options.validationFraction,
      testFraction: options.testFraction,
    },
    (p) => {
      if (p.phase !== phase) {
        progress?.stop();
        phase = p.phase;
        progress = p.phase === 'DONE' || p.phase === 'FAILED' ? undefined : createProgress(p.phase.toLowerCase());
      }
      if (p.total > 0) progress?.update(p.done, p.total);
    },
  );
  progress?.stop();
  const { dataset } = result;
  console.log(
    result.created
      ? `uploaded dataset ${dataset.id} "${dataset.name}", version ${dataset.version} (digest ${dataset.digest?.slice(0, 12)}): ${result.itemCount} items`
      : `this content was imported before: dataset ${dataset.id} "${dataset.name}" (version ${dataset.version}); nothing new stored`,
  );
  for (const r of result.rejects.slice(0, 20)) console.log(`  rejected line ${r.line}: ${r.reason}`);
}

async function printDataset(app: App, id: number, split?: Split) {
  const { datasets } = app.services;
  const dataset = await datasets.get(id);
  const splits = await datasets.splitCounts(id);
  console.log(
    `dataset ${dataset.id} "${dataset.name}" version ${dataset.version}${dataset.contentSha256 ? ` (digest ${dataset.contentSha256})` : ''}: ${dataset.itemCount} items (${splits.map((s) => `${s.split.toLowerCase()} ${s.count}`).join(', ')}), ranked by ${dataset.rankingMetric}`,
  );
  if (dataset.rejectCount > 0) console.log(`${dataset.rejectCount} rows were rejected at import`);
  for (const task of await datasets.distribution(id, split)) {
    console.log(`\n${task.name}${split ? ` (${split.toLowerCase()})` : ''}: ${task.total} labels, imbalance ratio ${task.imbalanceRatio?.toFixed(1) ?? 'n/a'}`);
    console.log(
      table(
        ['#', 'class', 'count', 'share'],
        task.classes.map((c) => [c.index, c.name, c.count, percent(c.share)]),
      ),
    );
  }
}

/** What import and upload share: rejects, the split's seed and validation share. */
function withSplitOptions(command: Command): Command {
  return command
    .option('--skip-invalid', 'import the valid rows and keep the invalid ones as rejects, instead of importing nothing')
    .option('--seed <s>', 'seed of the stratified split', int('seed', 0), DEFAULT_SPLIT_SEED)
    .option('--validation-fraction <f>', 'share of items in the validation split', fraction, DEFAULT_VALIDATION_FRACTION);
}

export function addDataCommands(program: Command): void {
  program
    .command('synth')
    .description('write a synthetic Fashion-How dataset (JPEGs + train.csv, synth.json with the noise and its ceiling)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--count <n>', 'number of items', int('count', 1), 1000)
    .option('--seed <s>', 'random seed', int('seed', 0), 1)
    .option('--min-side <px>', 'smallest image side', int('min-side', 32), 160)
    .option('--max-side <px>', 'largest image side', int('max-side', 32), 320)
    .option(
      '--difficulty <level>',
      `${SYNTH_DIFFICULTIES.join(' | ')}: standard is learnt perfectly; realistic has confusable classes, clutter, occlusion, bbox jitter; silhouette is as hard, told apart by shape and fine texture instead of colour`,
      choice(SYNTH_DIFFICULTIES),
      'standard',
    )
    .option(
      '--label-noise <share>',
      `share of labels per task given as a confusable class (default ${DEFAULT_REALISTIC_LABEL_NOISE} realistic and silhouette, 0 standard)`,
      fraction,
    )
    .action(async (options) => {
      await synth(options);
    });

  withSplitOptions(
    program
      .command('import')
      .description('import a Fashion-How CSV and its images into the database')
      .argument('<csv>', 'CSV with image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax and one column per task')
      .option('--images <dir>', 'image root the image_name values are relative to (default: images/ beside the CSV, else its folder)')
      .option('--name <name>', 'dataset name (default: the CSV file name)')
      .option('--schema <file>', "label schema JSON/YAML (default: <csv stem>.schema.json|yaml beside the CSV, else Fashion-How's)"),
  )
    .option(
      '--ranking-metric <m>',
      `what the dataset's models are ranked by: ${RANKING_METRICS.join(' | ')} (default MEAN_TOP1, the sensibility task's)`,
      (raw: string) => choice(RANKING_METRICS)(raw.toUpperCase().replace(/-/g, '_')),
    )
    .option('--test-fraction <f>', 'share of items held out as TEST, e.g. 0.15 with --validation-fraction 0.15 for 70:15:15', fraction, 0)
    .action(async (csv: string, options: ImportOptions) => {
      await withApp((app) => runImport(app, csv, options));
    });

  withSplitOptions(
    program
      .command('upload')
      .description('upload a dataset folder (packed here as a .tar) or archive to a running server (FASHION_HOW_ENDPOINT, FASHION_HOW_TOKEN with role trainer)')
      .argument('<source>', 'a folder holding the CSV, its images and optionally <csv stem>.schema.json; or a .zip, .tar or .tar.gz of one')
      .option('--csv <name>', "the CSV's name inside it (default: its only .csv file)")
      .option('--images <folder>', 'the image folder inside it (default: images/ beside the CSV, else its folder)')
      .option('--name <name>', 'dataset name (default: the CSV file name); changed content under a name in use is its next version'),
  )
    .option('--test-fraction <f>', 'share of items held out as TEST', fraction, 0)
    .action((source: string, options: UploadOptions) => upload(source, options));

  program
    .command('datasets')
    .description('list the imported datasets')
    .action(() =>
      withApp(async (app) => {
        const rows = await app.services.datasets.list();
        if (rows.length === 0) return console.log('no datasets yet: try `fashion-how synth --out data/synth` then `fashion-how import data/synth/train.csv`');
        console.log(
          table(
            ['id', 'name', 'items', 'rejects', 'imported'],
            rows.map((d) => [d.id, d.name, d.itemCount, d.rejectCount, d.createdAt.toISOString()]),
          ),
        );
      }),
    );

  program
    .command('dataset')
    .description('show one dataset: items per split and the class distribution of every task')
    .argument('<id>', 'dataset id', int('id', 1))
    .option('--split <split>', `only one split (${SPLITS.join(', ')})`, (raw: string) => {
      const split = raw.toUpperCase();
      if (!(SPLITS as readonly string[]).includes(split)) throw new InvalidArgumentError(`choose one of ${SPLITS.join(', ')}`);
      return split as Split;
    })
    .action((id: number, options: { split?: Split }) => withApp((app) => printDataset(app, id, options.split)));
}
