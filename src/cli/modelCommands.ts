// fashion-how classify, import-model, quantize, ensemble, evaluate, report: models, votes and their reports.
import { createReadStream } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { saveStream } from '../api/uploads.js';
import type { Bbox, Split } from '../domain.js';
import { SPLITS } from '../domain.js';
import { badInput } from '../errors.js';
import { FIT_METRICS, type FitMetric } from '../inference/ensembleFit.js';
import { importModel } from '../inference/registry.js';
import { percent } from '../reports/metricsTable.js';
import { modelCardHtml } from '../reports/modelCard.js';
import { CALIBRATION_ITEMS, DEFAULT_METHOD, type QuantizationRecord } from '../training/quantization.js';
import { describeFit } from './ensemble.js';
import { table } from './format.js';
import { choice, int, list, splitOrAll } from './options.js';
import { printReport, reportCsv, reportJson } from './report.js';
import { withApp } from './session.js';

const signed = (change: number) => `${change >= 0 ? '+' : ''}${(change * 100).toFixed(2)} points`;

export function addModelCommands(program: Command): void {
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
    .option('--model <alias>', 'an alias (default: champion, else the default ensemble)')
    .option('--ensemble <id>', 'an ensemble instead of an alias', int('ensemble', 1))
    .option('--artifact <id>', 'a single artifact instead of an ensemble', int('artifact', 1))
    .option('--members', "also show each member's vote")
    .option('--json', 'print the answer as JSON')
    .action((options: { image: string; bbox: Bbox; model?: string; ensemble?: number; artifact?: number; members?: boolean; json?: boolean }) =>
      withApp(async (app) => {
        const image = await readFile(options.image).catch(() => {
          throw badInput(`cannot read image file ${options.image}`);
        });
        const outcome = await app.services.router.serve({
          images: [{ image, bbox: options.bbox }],
          model: options.model,
          ensembleId: options.ensemble,
          artifactId: options.artifact,
          includeMembers: options.members,
          client: 'cli',
        });
        if (options.json) return console.log(JSON.stringify(outcome, null, 2));
        const via = outcome.served.alias ? ` (alias ${outcome.served.alias}, ${outcome.served.role.toLowerCase()})` : '';
        console.log(`${outcome.target.kind} ${outcome.target.id} "${outcome.target.name}"${via}`);
        for (const task of outcome.results[0]!) {
          const order = task.probabilities.map((p, k) => [p, k] as const).sort((a, b) => b[0] - a[0]);
          console.log(`\n${task.task}: ${task.classes[order[0]![1]]} (${percent(order[0]![0])})`);
          console.log(
            table(
              ['#', 'class', 'probability', ...(task.members ?? []).map((m) => `artifact ${m.artifactId} (w ${m.weight})`)],
              task.classes.map((name, k) => [k, name, percent(task.probabilities[k]!), ...(task.members ?? []).map((m) => percent(m.probabilities[k]!))]),
            ),
          );
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
        const artifact = await importModel(
          { db: app.services.db, artifactStore: app.services.artifactStore, dataDir: app.config.dataDir },
          { name, modelJson, saveOnnx },
          app.config.imageLimits,
          app.config.modelChecks,
        );
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
        if (!Number.isInteger(artifactId) || artifactId < 1 || !(Number(weight) > 0))
          throw new InvalidArgumentError(`"${part}" is not artifactId[:weight] with a positive weight`);
        return { artifactId, weight: Number(weight) };
      }),
    )
    .option('--default', 'make it the default ensemble')
    .action((options: { name: string; members: { artifactId: number; weight: number }[]; default?: boolean }) =>
      withApp(async (app) => {
        const created = await app.services.ensembles.create({ name: options.name, members: options.members, makeDefault: options.default });
        console.log(
          `ensemble ${created.id} "${created.name}"${created.isDefault ? ' (default)' : ''}: ${options.members.map((m) => `artifact ${m.artifactId} x ${m.weight}`).join(', ')}`,
        );
      }),
    );
  ensemble
    .command('default')
    .description('make an ensemble the default: moves the champion alias (running servers warm it within FASHION_HOW_MODEL_REFRESH_MS)')
    .argument('<id>', 'ensemble id', int('id', 1))
    .action((id: number) =>
      withApp(async (app) => {
        const made = await app.services.ensembles.setDefault(id, 'cli');
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
        console.log(
          table(
            ['id', 'name', 'default', 'members (artifact x weight)'],
            rows.map((e, i) => [e.id, e.name, e.isDefault ? 'yes' : '', members[i]!.map((m) => `${m.artifactId} x ${m.weight}`).join(', ')]),
          ),
        );
      }),
    );

  ensemble
    .command('fit')
    .description('fit an ensemble to win on a split: per-member temperatures, greedy selection with replacement, optional logit adjustment')
    .requiredOption('--name <name>', 'ensemble name')
    .option('--artifacts <list>', 'candidate artifact ids, e.g. 1,2,3', (raw: string) => list(raw).map((id) => int('artifacts', 1)(id)))
    .option('--cross-validations <list>', 'instead: finished cross-validations, fitted on their out-of-fold predictions', (raw: string) =>
      list(raw).map((id) => int('cross-validations', 1)(id)),
    )
    .requiredOption('--dataset <id>', 'dataset to fit on', int('dataset', 1))
    .option('--split <split>', `fitting split: ${SPLITS.join(', ')} (default VALIDATION; report on another)`, splitOrAll)
    .option('--metric <metric>', `${FIT_METRICS.join(' | ')} (default: the dataset's ranking metric)`, (raw: string) =>
      choice(FIT_METRICS)(raw.toUpperCase().replace(/-/g, '_')),
    )
    .option('--no-temperature', 'no temperature scaling of the members')
    .option('--logit-adjustment', 'fit a logit adjustment of the vote per task for ACSA')
    .option('--rounds <n>', 'selection steps (default 25)', int('rounds', 1))
    .option('--default', 'make it the default ensemble')
    .action(
      (options: {
        name: string;
        artifacts?: number[];
        crossValidations?: number[];
        dataset: number;
        split?: Split | 'ALL';
        metric?: FitMetric;
        temperature: boolean;
        logitAdjustment?: boolean;
        rounds?: number;
        default?: boolean;
      }) =>
        withApp(async (app) => {
          if (options.split === 'ALL') throw new InvalidArgumentError('fit on one split (ALL would leave nothing to report on)');
          const fitted = await app.services.fitter.fit({
            name: options.name,
            artifactIds: options.artifacts ?? [],
            crossValidationIds: options.crossValidations,
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
    .command('quantize')
    .description('post-training INT8: calibrate an fp32 artifact on training images, register the QDQ graph, and score both on VALIDATION and TEST')
    .argument('<artifact>', 'the fp32 artifact id', int('artifact', 1))
    .option('--dataset <id>', 'calibration dataset (default: the one its run trained on)', int('dataset', 1))
    .option('--split <split>', `split to calibrate on (${SPLITS.join(', ')}; default TRAIN)`, splitOrAll)
    .option('--items <n>', `calibration images (${CALIBRATION_ITEMS.min} to ${CALIBRATION_ITEMS.max}, default ${CALIBRATION_ITEMS.default})`, int('items', 1))
    .option('--method <method>', `MINMAX or PERCENTILE (default ${DEFAULT_METHOD})`, choice(['MINMAX', 'PERCENTILE'] as const))
    .action((artifactId: number, options: { dataset?: number; split?: Split | 'ALL'; items?: number; method?: 'MINMAX' | 'PERCENTILE' }) =>
      withApp(async (app) => {
        if (options.split === 'ALL') throw new InvalidArgumentError('calibrate on one split (TRAIN keeps VALIDATION and TEST held out)');
        const int8 = await app.services.quantization.quantize({
          artifactId,
          calibration: { datasetId: options.dataset, split: options.split, items: options.items },
          method: options.method,
        });
        const record = int8.quantization as unknown as QuantizationRecord;
        console.log(
          `artifact ${int8.id} (${int8.name}): INT8 of artifact ${artifactId}, ${(int8.sizeBytes / 1e6).toFixed(1)} MB, ${record.method} ranges on ${record.calibrationImages} ${record.calibration.split} images of dataset ${record.calibration.datasetId} v${record.calibration.datasetVersion}`,
        );
        for (const change of record.accuracy) {
          console.log(`\n${change.split} (${change.itemCount} items): mean top-1 ${signed(change.meanTop1Change)}, mean ACSA ${signed(change.meanAcsaChange)}`);
          console.log(
            table(
              ['task', 'fp32 top-1', 'int8 top-1', 'fp32 ACSA', 'int8 ACSA'],
              change.tasks.map((t) => [t.task, percent(t.parentTop1), percent(t.top1), percent(t.parentAcsa), percent(t.acsa)]),
            ),
          );
        }
      }),
    );

  program
    .command('tune')
    .description('time ONNX Runtime session options for an artifact on this host and keep the fastest (FASHION_HOW_ORT_* settings still win)')
    .argument('<artifact>', 'artifact id', int('artifact', 1))
    .action((artifactId: number) =>
      withApp(async (app) => {
        const tuned = await app.services.models.tune(artifactId);
        console.log(
          `artifact ${artifactId} on ${tuned.host}: ${tuned.imagesPerSecond.toFixed(1)} images/s at batch ${tuned.batch} (defaults ${tuned.defaultImagesPerSecond.toFixed(1)}), ${tuned.tried.length} option sets timed`,
        );
        console.log(JSON.stringify(tuned.options));
      }),
    );

  program
    .command('evaluate')
    .description('score a run, an artifact or an ensemble on a split through the serving path and store a report')
    .option('--run <id>', 'a finished run', int('run', 1))
    .option('--artifact <id>', 'an artifact', int('artifact', 1))
    .option('--ensemble <id>', 'an ensemble', int('ensemble', 1))
    .option('--dataset <id>', "dataset to score on (default: the run's)", int('dataset', 1))
    .option('--split <split>', `${SPLITS.join(', ')} or ALL (default: VALIDATION for a run, else ALL)`, splitOrAll)
    .action((options: { run?: number; artifact?: number; ensemble?: number; dataset?: number; split?: Split | 'ALL' }) =>
      withApp(async (app) => {
        const report = await app.services.evaluation.evaluate({
          runId: options.run,
          artifactId: options.artifact,
          ensembleId: options.ensemble,
          datasetId: options.dataset,
          split: options.split,
        });
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
}
