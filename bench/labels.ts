// Label-finder benchmark on CPU: a synthetic dataset with a known share of flipped labels (10 % per
// task by default, into confusable classes on the realistic difficulty), a k-fold cross-validation for
// out-of-fold probabilities, the confident-learning scan of TRAIN + VALIDATION scored against the known
// flips (precision and recall per task at the finder's own cut-off), every suspect relabelled to its
// suggestion as a new version, and the same recipe trained on the noisy and on the corrected version:
// held-out TEST figures against the given (noisy) TEST labels and against the clean ones the generator knows.
// Every run trains a fixed number of epochs (not a time budget), so the comparison does not depend on
// what else shares the CPUs.
//   npm run bench:labels -- [--count 2000] [--noise 0.1] [--folds 3] [--epochs 12] [--size 64] [--difficulty realistic] [--keep DIR]

import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app.js';
import { table } from '../src/cli/format.js';
import { loadConfig } from '../src/config.js';
import { confusionOf, fromConfusion } from '../src/confusion.js';
import { importDataset } from '../src/data/import.js';
import { DEFAULT_LABEL_SCHEMA } from '../src/data/labelSchema.js';
import { type SynthDifficulty, writeSyntheticDataset } from '../src/data/synth.js';
import type { ReportMetrics } from '../src/reports/evaluate.js';
import { f3 } from '../src/reports/metricsTable.js';
import type { Hyperparameters } from '../src/training/hyper.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const count = arg('count', 2000);
const noise = arg('noise', 0.1);
const folds = arg('folds', 3);
const epochs = arg('epochs', 12);
const size = arg('size', 64);
const difficulty = process.argv.includes('--difficulty') ? (process.argv[process.argv.indexOf('--difficulty') + 1] as SynthDifficulty) : 'realistic';
const keepIndex = process.argv.indexOf('--keep');
const dir = keepIndex > 0 ? process.argv[keepIndex + 1]! : await mkdtemp(path.join(os.tmpdir(), 'fashion-how-labels-'));
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(0);
const tasks = DEFAULT_LABEL_SCHEMA.tasks;

const app = await openApp(loadConfig({ FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' }));
const { services } = app;
try {
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${count} ${difficulty} synthetic items, ${noise * 100} % labels flipped per task`);
  const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count, seed: 11, minSide: 96, maxSide: 200, difficulty, labelNoise: noise });
  const { flipped } = JSON.parse(await readFile(path.join(dir, 'synth', 'synth.json'), 'utf8')) as { flipped: { row: number; task: number; clean: number }[] };
  const { datasetId } = await importDataset(
    { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, validationFraction: 0.15, testFraction: 0.15 },
    services.importContext,
  );
  await services.training.startWorker();
  const recipe: Partial<Hyperparameters> = { imageSize: size, batchSize: 32, pretrained: 'none', seed: 1, cutmix: 'online', epochs };
  const combo = [{ backbone: 'resnet18', head: 'feedforward' }];

  // Out-of-fold probabilities for every TRAIN and VALIDATION item.
  const foldRuns = await services.training.startTraining({ datasetId, combos: combo, options: recipe, folds });
  await services.training.waitFor(foldRuns.map((r) => r.id));
  const cvId = foldRuns[0]!.crossValidationId!;
  const oof = (await services.crossValidations.outOfFoldScores(cvId))!;
  console.log(
    `[${seconds()} s] ${folds}-fold cross-validation, ${epochs} epochs a fold: out of fold mean top-1 ${f3(oof.meanTop1)}, mean ACSA ${f3(oof.meanAcsa)}`,
  );

  const scan = await services.labelReview.find({ datasetId, crossValidationId: cvId });
  const items = await services.db.item.findMany({ where: { datasetId } });
  const lineOf = new Map(items.map((i) => [i.id, i.line]));
  // Line 2 is row 0 (line 1 is the header).
  const flipAt = new Map(flipped.map((f) => [`${f.row + 2}:${f.task}`, f.clean]));
  const scanned = new Set((await services.db.foldPrediction.findMany({ where: { crossValidationId: cvId }, select: { itemId: true } })).map((p) => p.itemId));
  const finderRows = [];
  for (const [t, task] of tasks.entries()) {
    const issues = await services.db.labelIssue.findMany({ where: { scanId: scan.id, task: t } });
    const flips = [...scanned].filter((id) => flipAt.has(`${lineOf.get(id)}:${t}`)).length;
    const hits = issues.filter((i) => flipAt.has(`${lineOf.get(i.itemId)}:${t}`));
    const rightSuggestion = hits.filter((i) => flipAt.get(`${lineOf.get(i.itemId)}:${t}`) === i.suggestedClass).length;
    finderRows.push([
      task.name,
      String(flips),
      String(issues.length),
      f3(hits.length / Math.max(1, issues.length)),
      f3(hits.length / Math.max(1, flips)),
      f3(rightSuggestion / Math.max(1, hits.length)),
    ]);
  }
  console.log(`\nthe finder on ${scanned.size} out-of-fold items (scan ${scan.id}):`);
  console.log(table(['task', 'flipped', 'suspects', 'precision', 'recall', 'suggestion = clean label'], finderRows));

  await services.labelReview.reviewAll(scan.id, 'RELABEL');
  const corrected = await services.labelReview.apply(scan.id);

  // The same recipe on the noisy and on the corrected version, scored on TEST (which the scan left alone).
  const heldOut = async (label: string, trainOn: number) => {
    const [run] = await services.training.startTraining({ datasetId: trainOn, combos: combo, options: recipe });
    await services.training.waitFor([run!.id]);
    const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: run!.id } });
    const report = await services.evaluation.evaluate({ artifactId: artifact.id, datasetId, split: 'TEST' });
    const metrics = report.metrics as unknown as ReportMetrics;
    // Against the clean TEST labels: the report's predictions with the generator's labels.
    const predictions = await services.db.reportPrediction.findMany({ where: { reportId: report.id } });
    const clean = tasks.map((task, t) => {
      const rows = predictions.filter((p) => p.task === t);
      const truth = rows.map((p) => flipAt.get(`${lineOf.get(p.itemId)}:${t}`) ?? p.trueClass);
      return fromConfusion(
        confusionOf(
          truth,
          rows.map((p) => p.predictedClass),
          task.classes.length,
        ),
      );
    });
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    console.log(`[${seconds()} s] ${label}: trained on dataset ${trainOn}`);
    return [
      label,
      f3(metrics.meanTop1),
      f3(metrics.meanAcsa),
      f3(mean(clean.map((c) => c.top1))),
      f3(mean(clean.map((c) => c.acsa))),
      ...clean.map((c) => `${f3(c.top1)} / ${f3(c.acsa)}`),
    ];
  };
  const rows = [await heldOut('trained on the noisy labels', datasetId), await heldOut('trained on the corrected version', corrected.id)];
  console.log(`\nresnet18 + feedforward, ${epochs} epochs each, held-out TEST (${items.filter((i) => i.split === 'TEST').length} items):`);
  console.log(
    table(
      ['labels', 'mean top-1 (given)', 'mean ACSA (given)', 'mean top-1 (clean)', 'mean ACSA (clean)', ...tasks.map((t) => `${t.name} clean top-1 / ACSA`)],
      rows,
    ),
  );
  console.log(`total ${seconds()} s`);
} finally {
  await app.close();
}
