// The `fashion-how` command. Each subcommand is a thin shell over the same services the GraphQL
// server uses, opened on the database that the environment (src/config.ts) names.
import { createReadStream } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { type App, openApp } from './app.js';
import { ROLES } from './auth/tokens.js';
import { percent, table } from './cli/format.js';
import { createProgress } from './cli/progress.js';
import { printReport, reportCsv, reportJson } from './cli/report.js';
import { modelCardHtml } from './reports/modelCard.js';
import { runDemo } from './cli/demo.js';
import { describeDistillation, followRuns, runsTable } from './cli/train.js';
import { describeFit } from './cli/ensemble.js';
import { FIT_METRICS, type FitMetric } from './inference/ensembleFit.js';
import { loadConfig } from './config.js';
import { SETTINGS, type Setting } from './settings.js';
import { type Bbox, SPLITS, type Split } from './domain.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_VALIDATION_FRACTION, importDataset, type ImportOutcome } from './data/import.js';
import { writeSyntheticDataset } from './data/synth.js';
import { AppError, badInput, ensureError } from './errors.js';
import { importModel } from './inference/registry.js';
import { startServer } from './api/server.js';
import { saveStream } from './api/uploads.js';
import { CUTMIX_MODES, DEVICES, type Hyperparameters, PRECISIONS, SEED_RECIPE } from './training/hyper.js';
import { PROCESS_ID } from './host.js';
import { RUN_STATUSES, type RunStatus } from './training/runRecord.js';
import { VERSION } from './version.js';

function int(name: string, min: number) {
  return (raw: string) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };
}

function number(raw: string) {
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`must be a number, got "${raw}"`);
  return value;
}

function choice<T extends string>(choices: readonly T[]) {
  return (raw: string) => {
    if (!(choices as readonly string[]).includes(raw)) throw new InvalidArgumentError(`choose one of ${choices.join(', ')}`);
    return raw as T;
  };
}

const list = (raw: string) => raw.split(',').map((s) => s.trim()).filter(Boolean);

function fraction(raw: string) {
  const value = Number(raw);
  if (!(value >= 0 && value < 1)) throw new InvalidArgumentError(`must be at least 0 and below 1, got "${raw}"`);
  return value;
}

async function withApp<T>(work: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(loadConfig());
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

async function synth(options: { out: string; count: number; seed: number; minSide: number; maxSide: number }) {
  const progress = createProgress('synth');
  const result = await writeSyntheticDataset({ ...options, onProgress: (done, total) => progress.update(done, total) });
  progress.stop();
  console.log(`wrote ${result.rows.length} images under ${result.imageRoot}`);
  console.log(`wrote ${result.csvPath}`);
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
    },
    {
      ...app.services.importContext,
      onProgress: (p) => {
        if (p.phase === 'validate') progress.update(p.done, p.total);
        else if (p.done === 0) console.error(`storing ${p.total} items in one transaction`);
      },
    },
  );
  progress.stop();
  if (!outcome.created) {
    console.log(`this CSV was imported before (same content): dataset ${outcome.datasetId}, ${outcome.itemCount} items; nothing new stored`);
    return outcome;
  }
  console.log(`imported dataset ${outcome.datasetId}: ${outcome.itemCount} items in ${(outcome.durationMs / 1000).toFixed(1)} s`);
  if (outcome.rejects.length > 0) {
    console.log(`skipped ${outcome.rejects.length} invalid rows (kept as rejects):`);
    for (const r of outcome.rejects.slice(0, 20)) console.log(`  line ${r.line}: ${r.reason}`);
  }
  return outcome;
}

async function printDataset(app: App, id: number, split?: Split) {
  const { datasets } = app.services;
  const dataset = await datasets.get(id);
  const splits = await datasets.splitCounts(id);
  console.log(`dataset ${dataset.id} "${dataset.name}": ${dataset.itemCount} items (${splits.map((s) => `${s.split.toLowerCase()} ${s.count}`).join(', ')})`);
  if (dataset.rejectCount > 0) console.log(`${dataset.rejectCount} rows were rejected at import`);
  for (const task of await datasets.distribution(id, split)) {
    console.log(`\n${task.name}${split ? ` (${split.toLowerCase()})` : ''}: ${task.total} labels, imbalance ratio ${task.imbalanceRatio?.toFixed(1) ?? 'n/a'}`);
    console.log(table(['#', 'class', 'count', 'share'], task.classes.map((c) => [c.index, c.name, c.count, percent(c.share)])));
  }
}

/** "0,1" -> [0, 1]: CUDA device indices, each once. */
function gpuList(value: string): number[] {
  const gpus = value.split(',').map((part) => Number(part.trim()));
  if (gpus.length === 0 || gpus.some((g) => !Number.isInteger(g) || g < 0) || new Set(gpus).size !== gpus.length) {
    throw new InvalidArgumentError(`--gpus must be distinct device indices separated by commas, e.g. 0,1; got "${value}"`);
  }
  return gpus;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

async function serve(app: App, options: { worker: boolean }) {
  const { training } = app.services;
  if (!options.worker && !training.distributed) {
    throw new Error('--no-worker needs PostgreSQL (DATABASE_URL=postgresql://...): with SQLite the server is the one process that trains');
  }
  const server = await startServer(app);
  const adopted = await training.adoptQueued();
  if (adopted.length > 0) console.log(`queued training runs picked up: ${adopted.join(', ')}`);
  if (options.worker) await training.startWorker();
  if (training.distributed) console.log(options.worker ? `training: this server is also a worker of the PostgreSQL job queue (${PROCESS_ID})` : 'training: queued for worker hosts (fashion-how worker); this server trains nothing');
  if ((await app.services.tokens.count()) === 0) {
    console.log('no API tokens yet: mutations need one. Create the first admin token with `fashion-how token create --role admin --name me`');
  }
  await app.warmDefaultEnsemble().catch((error) => app.log.error({ err: error }, 'could not load the default ensemble'));
  console.log(`GraphQL: ${server.graphqlUrl}`);
  await untilSignal();
  await server.close();
}

export function buildProgram(): Command {
  const program = new Command('fashion-how')
    .description('Fashion-How sensibility platform: datasets, training, ensembles, reports over GraphQL.')
    .version(VERSION)
    .showHelpAfterError()
    .addHelpText('after', `\nEnvironment:\n${Object.values(SETTINGS).map((s: Setting<unknown>) => `  ${s.name.padEnd(34)} ${s.description} (default ${s.defaultText})`).join('\n')}`);

  program
    .command('synth')
    .description('write a synthetic Fashion-How dataset (JPEGs + train.csv) with a learnable signal per task')
    .requiredOption('--out <dir>', 'output folder')
    .option('--count <n>', 'number of items', int('count', 1), 1000)
    .option('--seed <s>', 'random seed', int('seed', 0), 1)
    .option('--min-side <px>', 'smallest image side', int('min-side', 32), 160)
    .option('--max-side <px>', 'largest image side', int('max-side', 32), 320)
    .action(async (options) => {
      await synth(options);
    });

  program
    .command('import')
    .description('import a Fashion-How CSV and its images into the database')
    .argument('<csv>', 'CSV with image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax and one column per task')
    .option('--images <dir>', 'image root the image_name values are relative to (default: images/ beside the CSV, else its folder)')
    .option('--name <name>', 'dataset name (default: the CSV file name)')
    .option('--schema <file>', 'label schema JSON/YAML (default: <csv stem>.schema.json|yaml beside the CSV, else Fashion-How\'s)')
    .option('--skip-invalid', 'import the valid rows and keep the invalid ones as rejects, instead of importing nothing')
    .option('--seed <s>', 'seed of the stratified split', int('seed', 0), DEFAULT_SPLIT_SEED)
    .option('--validation-fraction <f>', 'share of items in the validation split', fraction, DEFAULT_VALIDATION_FRACTION)
    .option('--test-fraction <f>', 'share of items held out as TEST, e.g. 0.15 with --validation-fraction 0.15 for 70:15:15', fraction, 0)
    .action(async (csv: string, options: ImportOptions) => {
      await withApp((app) => runImport(app, csv, options));
    });

  program
    .command('datasets')
    .description('list the imported datasets')
    .action(() =>
      withApp(async (app) => {
        const rows = await app.services.datasets.list();
        if (rows.length === 0) return console.log('no datasets yet: try `fashion-how synth --out data/synth` then `fashion-how import data/synth/train.csv`');
        console.log(table(['id', 'name', 'items', 'rejects', 'imported'], rows.map((d) => [d.id, d.name, d.itemCount, d.rejectCount, d.createdAt.toISOString()])));
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
        };
        const teacher = options.teacher ? { ensembleId: options.teacher, temperature: options.teacherTemperature, alpha: options.teacherAlpha, compareWithoutTeacher: options.baseline } : undefined;
        // With PostgreSQL this process is a worker of the queue while it waits (worker hosts may take runs too).
        await app.services.training.startWorker();
        const runs = await app.services.training.startTraining({ datasetId: options.dataset, backbones: options.backbones, heads: options.heads, options: hyper, teacher });
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
        console.log(runs.length ? runsTable(runs) : 'no training runs yet: try `fashion-how train --dataset 1 --backbones mobilenet_v3_small --heads feedforward`');
      }),
    );

  const token = program.command('token').description('API tokens: create, list, revoke');
  token
    .command('create')
    .description('create a token and print it (shown only once)')
    .requiredOption('--role <role>', `${ROLES.join(' | ')} (any case: READER as in GraphQL works too)`, (raw: string) => choice(ROLES)(raw.toLowerCase()))
    .requiredOption('--name <name>', 'who or what uses it')
    .action((options: { role: string; name: string }) =>
      withApp(async (app) => {
        const created = await app.services.tokens.create(options.name, options.role);
        console.log(created.token);
        console.error(`token ${created.id} (${created.role}) created; send it as "Authorization: Bearer <token>"`);
      }),
    );
  token
    .command('list')
    .description('list tokens (their first characters only)')
    .action(() =>
      withApp(async (app) => {
        const rows = await app.services.tokens.list();
        console.log(table(['id', 'name', 'role', 'prefix', 'created', 'last used', 'revoked'], rows.map((t) => [t.id, t.name, t.role, t.prefix, t.createdAt.toISOString(), t.lastUsedAt?.toISOString() ?? '', t.revokedAt?.toISOString() ?? ''])));
      }),
    );
  token
    .command('revoke')
    .argument('<id>', 'token id', int('id', 1))
    .action((id: number) =>
      withApp(async (app) => {
        await app.services.tokens.revoke(id);
        console.log(`token ${id} revoked`);
      }),
    );

  program
    .command('classify')
    .description('predict every task for the item in a bbox of an image, with the default ensemble or the one given')
    .requiredOption('--image <file>', 'image file')
    .requiredOption('--bbox <xmin,ymin,xmax,ymax>', 'item bbox in pixels (max exclusive)', (raw: string) => {
      const parts = raw.split(',').map(Number);
      if (parts.length !== 4 || !parts.every(Number.isInteger)) throw new InvalidArgumentError('expected four integers: xmin,ymin,xmax,ymax');
      const [xmin, ymin, xmax, ymax] = parts as [number, number, number, number];
      return { xmin, ymin, xmax, ymax };
    })
    .option('--ensemble <id>', 'ensemble id (default: the default ensemble)', int('ensemble', 1))
    .option('--artifact <id>', 'a single artifact instead of an ensemble', int('artifact', 1))
    .option('--members', 'also show each member\'s vote')
    .option('--json', 'print the answer as JSON')
    .action((options: { image: string; bbox: Bbox; ensemble?: number; artifact?: number; members?: boolean; json?: boolean }) =>
      withApp(async (app) => {
        const image = await readFile(options.image).catch(() => {
          throw badInput(`cannot read image file ${options.image}`);
        });
        const outcome = await app.services.classify.classify({ images: [{ image, bbox: options.bbox }], ensembleId: options.ensemble, artifactId: options.artifact, includeMembers: options.members });
        if (options.json) return console.log(JSON.stringify(outcome, null, 2));
        console.log(`${outcome.target.kind} ${outcome.target.id} "${outcome.target.name}"`);
        for (const task of outcome.results[0]!) {
          const order = task.probabilities.map((p, k) => [p, k] as const).sort((a, b) => b[0] - a[0]);
          console.log(`\n${task.task}: ${task.classes[order[0]![1]]} (${percent(order[0]![0])})`);
          console.log(table(['#', 'class', 'probability', ...(task.members ?? []).map((m) => `artifact ${m.artifactId} (w ${m.weight})`)], task.classes.map((name, k) => [k, name, percent(task.probabilities[k]!), ...(task.members ?? []).map((m) => percent(m.probabilities[k]!))])));
        }
      }),
    );

  program
    .command('import-model')
    .description('register an ONNX graph with its model.json (checked and run once first) as a servable artifact')
    .argument('<onnx>', 'the .onnx file')
    .option('--model-json <file>', 'its model.json (default: model.json beside the ONNX file)')
    .option('--name <name>', 'artifact name (default: the ONNX file name)')
    .action((onnx: string, options: { modelJson?: string; name?: string }) =>
      withApp(async (app) => {
        const modelJsonPath = options.modelJson ?? path.join(path.dirname(onnx), 'model.json');
        const modelJson = await readFile(modelJsonPath, 'utf8').catch(() => {
          throw badInput(`cannot read ${modelJsonPath} (give its model.json with --model-json)`);
        });
        await access(onnx).catch(() => {
          throw badInput(`cannot read ${onnx}`);
        });
        const name = options.name ?? path.basename(onnx, '.onnx');
        const saveOnnx = (file: string) => saveStream(async () => createReadStream(onnx), file, onnx, app.config.maxModelBytes, 'FASHION_HOW_MAX_MODEL_BYTES');
        const artifact = await importModel({ db: app.services.db, artifactStore: app.services.artifactStore, dataDir: app.config.dataDir }, { name, modelJson, saveOnnx }, app.config.imageLimits);
        console.log(`artifact ${artifact.id} "${artifact.name}": ${(artifact.sizeBytes / 2 ** 20).toFixed(1)} MiB, sha256 ${artifact.sha256.slice(0, 12)}`);
      }),
    );

  const ensemble = program.command('ensemble').description('ensembles: weighted soft votes over artifacts');
  ensemble
    .command('create')
    .description('create an ensemble (the first one becomes the default)')
    .requiredOption('--name <name>', 'ensemble name')
    .requiredOption('--members <list>', 'artifactId[:weight],... e.g. 1:1,2:2', (raw: string) =>
      list(raw).map((part) => {
        const [id, weight = '1'] = part.split(':');
        const artifactId = Number(id);
        if (!Number.isInteger(artifactId) || artifactId < 1 || !(Number(weight) > 0)) throw new InvalidArgumentError(`"${part}" is not artifactId[:weight] with a positive weight`);
        return { artifactId, weight: Number(weight) };
      }),
    )
    .option('--default', 'make it the default ensemble')
    .action((options: { name: string; members: { artifactId: number; weight: number }[]; default?: boolean }) =>
      withApp(async (app) => {
        const created = await app.services.ensembles.create({ name: options.name, members: options.members, makeDefault: options.default });
        console.log(`ensemble ${created.id} "${created.name}"${created.isDefault ? ' (default)' : ''}: ${options.members.map((m) => `artifact ${m.artifactId} x ${m.weight}`).join(', ')}`);
      }),
    );
  ensemble
    .command('default')
    .description('make an ensemble the default (running servers warm it within FASHION_HOW_MODEL_REFRESH_MS)')
    .argument('<id>', 'ensemble id', int('id', 1))
    .action((id: number) =>
      withApp(async (app) => {
        const made = await app.services.ensembles.setDefault(id);
        console.log(`ensemble ${made.id} "${made.name}" is the default`);
      }),
    );
  ensemble
    .command('list')
    .description('list ensembles and their members')
    .action(() =>
      withApp(async (app) => {
        const rows = await app.services.ensembles.list();
        const members = await Promise.all(rows.map((e) => app.services.ensembles.members(e.id)));
        console.log(table(['id', 'name', 'default', 'members (artifact x weight)'], rows.map((e, i) => [e.id, e.name, e.isDefault ? 'yes' : '', members[i]!.map((m) => `${m.artifactId} x ${m.weight}`).join(', ')])));
      }),
    );

  const splitOption = (raw: string) => {
    const split = raw.toUpperCase();
    if (split !== 'ALL' && !(SPLITS as readonly string[]).includes(split)) throw new InvalidArgumentError(`choose one of ${SPLITS.join(', ')}, ALL`);
    return split as Split | 'ALL';
  };

  ensemble
    .command('fit')
    .description('fit an ensemble to win on a split: per-member temperatures, greedy selection with replacement, optional logit adjustment')
    .requiredOption('--name <name>', 'ensemble name')
    .requiredOption('--artifacts <list>', 'candidate artifact ids, e.g. 1,2,3', (raw: string) => list(raw).map((id) => int('artifacts', 1)(id)))
    .requiredOption('--dataset <id>', 'dataset to fit on', int('dataset', 1))
    .option('--split <split>', `fitting split: ${SPLITS.join(', ')} (default VALIDATION; report on another)`, splitOption)
    .option('--metric <metric>', `${FIT_METRICS.join(' | ')} (default MEAN_ACSA)`, (raw: string) => choice(FIT_METRICS)(raw.toUpperCase().replace(/-/g, '_')))
    .option('--no-temperature', 'no temperature scaling of the members')
    .option('--logit-adjustment', 'fit a logit adjustment of the vote per task for ACSA')
    .option('--rounds <n>', 'selection steps (default 25)', int('rounds', 1))
    .option('--default', 'make it the default ensemble')
    .action((options: { name: string; artifacts: number[]; dataset: number; split?: Split | 'ALL'; metric?: FitMetric; temperature: boolean; logitAdjustment?: boolean; rounds?: number; default?: boolean }) =>
      withApp(async (app) => {
        if (options.split === 'ALL') throw new InvalidArgumentError('fit on one split (ALL would leave nothing to report on)');
        const fitted = await app.services.fitter.fit({
          name: options.name,
          artifactIds: options.artifacts,
          datasetId: options.dataset,
          split: options.split,
          metric: options.metric,
          temperatureScaling: options.temperature,
          logitAdjustment: options.logitAdjustment,
          rounds: options.rounds,
          makeDefault: options.default,
        });
        console.log(describeFit(fitted));
      }),
    );

  program
    .command('evaluate')
    .description('score a run, an artifact or an ensemble on a split through the serving path and store a report')
    .option('--run <id>', 'a finished run', int('run', 1))
    .option('--artifact <id>', 'an artifact', int('artifact', 1))
    .option('--ensemble <id>', 'an ensemble', int('ensemble', 1))
    .option('--dataset <id>', "dataset to score on (default: the run's)", int('dataset', 1))
    .option('--split <split>', `${SPLITS.join(', ')} or ALL (default: VALIDATION for a run, else ALL)`, splitOption)
    .action((options: { run?: number; artifact?: number; ensemble?: number; dataset?: number; split?: Split | 'ALL' }) =>
      withApp(async (app) => {
        const report = await app.services.evaluation.evaluate({ runId: options.run, artifactId: options.artifact, ensembleId: options.ensemble, datasetId: options.dataset, split: options.split });
        await printReport(app, report.id);
      }),
    );

  program
    .command('report')
    .description('show a stored report as tables, or export it as JSON, CSV or a model card (one HTML file)')
    .argument('<id>', 'report id', int('id', 1))
    .option('--json', 'print the whole report as JSON')
    .option('--csv <file>', 'write the per-class rows as CSV')
    .option('--html <file>', 'write the model card: one self-contained HTML file (no script, no network) with every number of the report')
    .action((id: number, options: { json?: boolean; csv?: string; html?: string }) =>
      withApp(async (app) => {
        if (options.csv) {
          await writeFile(options.csv, await reportCsv(app, id));
          console.error(`wrote ${options.csv}`);
        }
        if (options.html) {
          await writeFile(options.html, await modelCardHtml(app.services, id));
          console.error(`wrote ${options.html}`);
        }
        if (options.json) console.log(await reportJson(app, id));
        else if (!options.csv && !options.html) await printReport(app, id);
      }),
    );

  program
    .command('serve')
    .description('start the GraphQL server (and the dashboard) on HOST:PORT')
    .option('--port <port>', 'port (default: PORT or 4000)', int('port', 0))
    .option('--no-worker', 'with PostgreSQL: serve only, and leave training jobs to worker hosts')
    .action((options: { port?: number; worker: boolean }) => {
      const config = loadConfig();
      return openApp(options.port === undefined ? config : { ...config, port: options.port }).then(async (app) => {
        try {
          await serve(app, { worker: options.worker });
        } finally {
          await app.close();
        }
      });
    });

  program
    .command('worker')
    .description('with PostgreSQL: take training jobs from its job queue and run them on this host, one per GPU, until stopped')
    .option('--gpus <list>', 'CUDA devices to use, one job on each, e.g. 0,1 (default: none, CPU or torch\'s default device)', gpuList)
    .option('--concurrency <n>', 'jobs at once (default: one per listed GPU, else FASHION_HOW_TRAINING_CONCURRENCY or 1)', int('concurrency', 1))
    .action((options: { gpus?: number[]; concurrency?: number }) =>
      withApp(async (app) => {
        const { training } = app.services;
        if (!training.distributed) throw new Error('fashion-how worker needs PostgreSQL: set DATABASE_URL=postgresql://user@host:5432/db (the same database the servers use)');
        if (options.gpus && options.concurrency && options.concurrency !== options.gpus.length) {
          throw new Error(`--concurrency ${options.concurrency} differs from the ${options.gpus.length} GPUs in --gpus: a job per GPU`);
        }
        const slots = (await training.startWorker({ gpus: options.gpus, concurrency: options.concurrency }))!;
        console.log(`worker ${PROCESS_ID}: taking training jobs (concurrency ${slots.concurrency}${slots.gpus.length ? `, GPUs ${slots.gpus.join(',')}` : ''})`);
        await untilSignal();
        console.log(`worker ${PROCESS_ID}: stopping; running jobs become INTERRUPTED and can be resumed`);
      }),
    );

  program
    .command('demo')
    .description('the whole platform on synthetic data: generate, import, train two combos, evaluate them and their ensemble, serve')
    .option('--seed <s>', 'random seed (data, split and training)', int('seed', 0), 1)
    .option('--count <n>', 'synthetic items', int('count', 10), 1500)
    .option('--full', "the seed's full recipe: 224 px, resnet152 + densenet161, 3 epochs, batch 64, offline CutMix x4")
    .option('--gpu', 'the full recipe on CUDA')
    .option('--port <port>', 'port (default: PORT or 4000)', int('port', 0))
    .action(async (options: { seed: number; count: number; full?: boolean; gpu?: boolean; port?: number }) => {
      const config = loadConfig();
      const app = await openApp(options.port === undefined ? config : { ...config, port: options.port });
      try {
        const server = await runDemo(app, { seed: options.seed, count: options.count, full: options.full ?? false, gpu: options.gpu ?? false });
        await untilSignal();
        await server.close();
      } finally {
        await app.close();
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (thrown) {
    const error = ensureError(thrown);
    console.error(`error: ${error.message}`);
    if (!(error instanceof AppError) && process.env.FASHION_HOW_DEBUG) console.error(error.stack);
    return 1;
  }
}
