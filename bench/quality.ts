// Model-quality benchmark on CPU, on the realistic synthetic difficulty (confusable classes, clutter,
// occlusion, bbox jitter, 8 % label noise; the noise ceiling is printed) split 70:15:15. First the recipe,
// side by side on the held-out TEST split: today's recipe (3 epochs, no label smoothing, no flips, the
// last epoch's weights) vs the new recipe in the same wall time (a time budget of what today's took) vs a
// longer time budget (at today's side, and with the side chosen by the budget's probe) vs the best trial of an ASHA sweep vs a k-fold ensemble (each fold in the same wall
// time as today's recipe; also fitted on its out-of-fold predictions); then a pool of members, their soft
// vote, the ensemble selected on VALIDATION without and with logit adjustment, and a distilled
// mobilenet_v3_small student with its baseline.
//   npm run bench:quality -- [--count 4000] [--size 64] [--epochs 3] [--budget 1800] [--largest-size 160] [--sweep-trials 6] [--sweep-epochs 9]
//                            [--folds 5] [--no-ablations] [--only recipe] [--difficulty standard] [--keep DIR]

import { copyFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app.js';
import { table } from '../src/cli/format.js';
import { sweepTable } from '../src/cli/sweepCommands.js';
import { loadConfig } from '../src/config.js';
import { importDataset } from '../src/data/import.js';
import { DEFAULT_LABEL_SCHEMA } from '../src/data/labelSchema.js';
import { type SynthDifficulty, writeSyntheticDataset } from '../src/data/synth.js';
import { importModel } from '../src/inference/registry.js';
import type { ReportMetrics } from '../src/reports/evaluate.js';
import { f3 } from '../src/reports/metricsTable.js';
import type { DistillationRecord } from '../src/training/distillation.js';
import type { Hyperparameters } from '../src/training/hyper.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const count = arg('count', 4000);
const size = arg('size', 64);
const epochs = arg('epochs', 3);
const longBudget = arg('budget', 1800);
/** The largest side the long budget's probe may choose (0: no such row). */
const largestSize = arg('largest-size', 160);
const sweepTrials = arg('sweep-trials', 6);
const sweepEpochs = arg('sweep-epochs', 9);
const folds = arg('folds', 5);
const ablations = !process.argv.includes('--no-ablations');
const onlyRecipe = process.argv.includes('--only') && process.argv[process.argv.indexOf('--only') + 1] === 'recipe';
const difficulty = process.argv.includes('--difficulty') ? (process.argv[process.argv.indexOf('--difficulty') + 1] as SynthDifficulty) : 'realistic';
const keepIndex = process.argv.indexOf('--keep');
const dir = keepIndex > 0 ? process.argv[keepIndex + 1]! : await mkdtemp(path.join(os.tmpdir(), 'fashion-how-quality-'));
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(0);

const app = await openApp(loadConfig({ FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' }));
const { services } = app;
try {
  console.log(
    `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${count} ${difficulty} synthetic items, ${size} px, ${epochs} epochs, split 70:15:15`,
  );
  const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count, seed: 7, minSide: 96, maxSide: 200, difficulty });
  console.log(
    `label noise ${synthetic.labelNoise}: noise ceiling ${synthetic.ceiling.map((c) => `${DEFAULT_LABEL_SCHEMA.tasks[c.task]!.name} ${f3(c.top1)} / ${f3(c.acsa)}`).join(', ')} (top-1 / ACSA)`,
  );
  const { datasetId } = await importDataset(
    { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, validationFraction: 0.15, testFraction: 0.15 },
    services.importContext,
  );
  /** A model's held-out TEST report and its figure cells: mean top-1, mean ACSA, then top-1 / ACSA per task. */
  const heldOutCells = async (target: { artifactId?: number; ensembleId?: number }) => {
    const metrics = (await services.evaluation.evaluate({ ...target, datasetId, split: 'TEST' })).metrics as unknown as ReportMetrics;
    return { metrics, cells: [f3(metrics.meanTop1), f3(metrics.meanAcsa), ...metrics.tasks.map((t) => `${f3(t.top1)} / ${f3(t.acsa)}`)] };
  };
  const heldOut = async (label: string, target: { artifactId?: number; ensembleId?: number }, wallSeconds: number) => [
    label,
    ...(await heldOutCells(target)).cells,
    wallSeconds.toFixed(0),
  ];
  const trainOne = async (label: string, options: Partial<Hyperparameters>) => {
    const [run] = await services.training.startTraining({ datasetId, combos: [{ backbone: 'resnet18', head: 'feedforward' }], options });
    await services.training.waitFor([run!.id]);
    const done = await services.training.get(run!.id);
    if (done.status !== 'SUCCEEDED') throw new Error(`${label}: run ${done.id} ${done.status}: ${done.error}`);
    const wall = (done.finishedAt!.getTime() - done.startedAt!.getTime()) / 1000;
    const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: done.id } });
    const progress = done.progress as {
      budget?: { epochs: number; imageSize?: number; sizeReason?: string };
      selection?: { bestEpoch: number; epochsRun: number };
    } | null;
    console.log(
      `[${seconds()} s] ${label}: ${wall.toFixed(0)} s, ${progress?.selection?.epochsRun ?? '?'} epochs, weights of epoch ${progress?.selection?.bestEpoch ?? 'last'}` +
        (progress?.budget?.sizeReason ? `; ${progress.budget.sizeReason}` : ''),
    );
    return { row: await heldOut(label, { artifactId: artifact.id }, wall), wall, artifactId: artifact.id, budget: progress?.budget };
  };
  // Today's recipe as it was: 3 epochs at 64 px, online CutMix, no label smoothing, no flips, last epoch.
  const base = { batchSize: 32, imageSize: size, pretrained: 'none', seed: 1 } satisfies Partial<Hyperparameters>;
  const today = { ...base, epochs, cutmix: 'online', labelSmoothing: 0, horizontalFlip: false, keepBestEpoch: false } satisfies Partial<Hyperparameters>;
  const recipe = { ...base, cutmix: 'online' } satisfies Partial<Hyperparameters>;
  const recipeRows: string[][] = [];
  const elapsedSince = (begun: number) => (performance.now() - begun) / 1000;

  /** The same weights served with test-time flips: the artifact imported again with a model.json that
   *  declares them (the graph is unchanged). */
  const flippedRow = async (artifactId: number, wall: number) => {
    const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { id: artifactId } });
    const flipped = await importModel(
      { db: services.db, artifactStore: services.artifactStore, dataDir: path.join(dir, 'data') },
      {
        name: `${artifact.name} + test-time flips`,
        modelJson: JSON.stringify({ ...(artifact.modelInfo as object), testTimeFlip: true }),
        saveOnnx: async (file) => {
          await copyFile(artifact.onnxPath, file);
          return { sha256: artifact.sha256, bytes: artifact.sizeBytes };
        },
      },
      app.config.imageLimits,
    );
    return heldOut('the same model served with test-time flips', { artifactId: flipped.id }, wall);
  };

  /** An ASHA sweep over the recipe's learning rate, weight decay, label smoothing and MixUp share; its best trial. */
  const sweepRow = async (wallOfToday: number) => {
    const begun = performance.now();
    const sweep = await services.sweeps.start({
      datasetId,
      backbone: 'resnet18',
      head: 'feedforward',
      trials: sweepTrials,
      strategy: 'ASHA',
      minEpochs: 1,
      reductionFactor: 3,
      seed: 1,
      space: {
        learningRate: { min: 3e-4, max: 3e-3, log: true },
        weightDecay: { min: 1e-5, max: 1e-3, log: true },
        labelSmoothing: { min: 0, max: 0.15 },
        mixupProbability: { min: 0, max: 0.5 },
      },
      options: { ...recipe, epochs: sweepEpochs },
    });
    const trials = await services.sweeps.trials(sweep.id);
    await services.training.waitFor(trials.map((t) => t.run.id));
    const wall = elapsedSince(begun);
    console.log(
      `[${seconds()} s] sweep ${sweep.id}: ${wall.toFixed(0)} s (${(wall / wallOfToday).toFixed(1)}x today's recipe)\n${await sweepTable(app, sweep)}`,
    );
    const best = await services.sweeps.best(sweep);
    if (!best) throw new Error(`sweep ${sweep.id}: no trial succeeded`);
    const pruned = (await services.sweeps.trials(sweep.id)).filter((t) => t.record.prunedAtEpoch !== null).length;
    const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: best.run.id } });
    return heldOut(`best of ${sweepTrials} ASHA trials (${pruned} pruned; up to ${sweepEpochs} epochs)`, { artifactId: artifact.id }, wall);
  };

  /** A k-fold cross-validation, each fold in today's wall time: its fold ensemble, and that ensemble fitted
   *  (temperatures, logit adjustment for the dataset's metric) on the out-of-fold predictions. */
  const foldRows = async (budget: number) => {
    const begun = performance.now();
    const runs = await services.training.startTraining({
      datasetId,
      combos: [{ backbone: 'resnet18', head: 'feedforward' }],
      options: { ...recipe, timeBudgetSeconds: budget },
      folds,
    });
    await services.training.waitFor(runs.map((r) => r.id));
    const cvId = runs[0]!.crossValidationId!;
    // The fold ensemble is made as the last fold ends (an event): wait for it briefly.
    let cv = await services.crossValidations.get(cvId);
    for (let i = 0; i < 100 && cv.ensembleId === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      cv = await services.crossValidations.get(cvId);
    }
    if (cv.ensembleId === null) throw new Error(`cross-validation ${cvId}: no fold ensemble (a fold failed?)`);
    const wall = elapsedSince(begun);
    const oof = (await services.crossValidations.outOfFoldScores(cvId))!;
    console.log(
      `[${seconds()} s] ${folds}-fold cross-validation: ${wall.toFixed(0)} s; out of fold (${oof.itemCount} items): mean top-1 ${f3(oof.meanTop1)}, mean ACSA ${f3(oof.meanAcsa)}`,
    );
    const fitted = await services.fitter.fit({
      name: 'folds fitted out of fold',
      artifactIds: [],
      crossValidationIds: [cvId],
      datasetId,
      logitAdjustment: true,
    });
    return [
      await heldOut(`${folds}-fold ensemble (each fold ${budget} s)`, { ensembleId: cv.ensembleId }, wall),
      await heldOut(`${folds}-fold ensemble + temperatures and logit adjustment fitted out of fold`, { ensembleId: fitted.id }, wall),
    ];
  };
  const old = await trainOne(`today's recipe (${epochs} epochs)`, today);
  recipeRows.push(old.row);
  recipeRows.push(
    (await trainOne(`new recipe, same wall time (budget ${Math.round(old.wall)} s)`, { ...recipe, timeBudgetSeconds: Math.round(old.wall) })).row,
  );
  if (ablations) {
    recipeRows.push(
      (await trainOne('new recipe with label smoothing 0.1, same time', { ...recipe, labelSmoothing: 0.1, timeBudgetSeconds: Math.round(old.wall) })).row,
    );
    recipeRows.push((await trainOne('new recipe without flips, same time', { ...recipe, horizontalFlip: false, timeBudgetSeconds: Math.round(old.wall) })).row);
  }
  const long = await trainOne(`new recipe, time budget ${longBudget} s`, { ...recipe, timeBudgetSeconds: longBudget });
  recipeRows.push(long.row);
  recipeRows.push(await flippedRow(long.artifactId, long.wall));
  if (largestSize > size) {
    const chosen = await trainOne(`new recipe, time budget ${longBudget} s, side chosen (up to ${largestSize} px)`, {
      ...recipe,
      imageSize: largestSize,
      timeBudgetSeconds: longBudget,
    });
    chosen.row[0] = `${chosen.row[0]}: ${chosen.budget?.imageSize ?? '?'} px`;
    recipeRows.push(chosen.row);
  }
  if (sweepTrials > 0) recipeRows.push(await sweepRow(Math.round(old.wall)));
  if (folds > 1) recipeRows.push(...(await foldRows(Math.round(old.wall))));
  console.log(`\nthe recipe, resnet18 + feedforward, held-out TEST (${await services.db.item.count({ where: { datasetId, split: 'TEST' } })} items):`);
  console.log(table(['recipe', 'mean top-1', 'mean ACSA', ...DEFAULT_LABEL_SCHEMA.tasks.map((t) => `${t.name} top-1 / ACSA`), 'wall s'], recipeRows));
  if (onlyRecipe) {
    console.log(`total ${seconds()} s`);
    process.exit(0);
  }
  const options: Partial<Hyperparameters> = { epochs, batchSize: 32, imageSize: size, cutmix: 'offline', cutmixCopies: 1, pretrained: 'none', seed: 1 };
  const combos = [
    { backbone: 'resnet18', head: 'feedforward' },
    { backbone: 'resnet18', head: 'residual' },
    { backbone: 'mobilenet_v3_large', head: 'feedforward' },
    { backbone: 'efficientnet_b0', head: 'residual' },
  ];
  const members = await services.training.startTraining({ datasetId, combos, options });
  await services.training.waitFor(members.map((r) => r.id));
  const artifacts = await services.db.modelArtifact.findMany({ where: { runId: { in: members.map((r) => r.id) } }, orderBy: { id: 'asc' } });
  if (artifacts.length !== combos.length) throw new Error(`only ${artifacts.length} of ${combos.length} members trained`);
  console.log(`[${seconds()} s] trained ${artifacts.length} members`);

  const plain = await services.ensembles.create({ name: 'plain soft vote', members: artifacts.map((a) => ({ artifactId: a.id, weight: 1 })) });
  const ids = artifacts.map((a) => a.id);
  const selected = await services.fitter.fit({ name: 'selected', artifactIds: ids, datasetId, split: 'VALIDATION' });
  const adjusted = await services.fitter.fit({ name: 'selected + logit adjustment', artifactIds: ids, datasetId, split: 'VALIDATION', logitAdjustment: true });
  console.log(`[${seconds()} s] fitted: selected ${JSON.stringify((await services.ensembles.members(selected.id)).map((m) => [m.artifactId, m.weight]))}`);

  const students = await services.training.startTraining({
    datasetId,
    combos: [{ backbone: 'mobilenet_v3_small', head: 'feedforward' }],
    options,
    teacher: { ensembleId: adjusted.id },
  });
  await services.training.waitFor(students.map((r) => r.id));
  await services.distillation.settled();
  const student = await services.training.get(students.at(-1)!.id);
  const record = student.distillation as unknown as DistillationRecord;
  console.log(`[${seconds()} s] distilled a student (run ${student.id}, ${student.status}${student.error ? `: ${student.error}` : ''})`);

  const rows: string[][] = [];
  const add = async (label: string, target: { artifactId?: number; ensembleId?: number }) => {
    const { metrics, cells } = await heldOutCells(target);
    rows.push([label, ...cells, metrics.model.sizeMB.toFixed(1), metrics.model.cpuLatencyMs.toFixed(1)]);
    return metrics;
  };
  for (const artifact of artifacts) await add(artifact.name, { artifactId: artifact.id });
  await add('plain soft vote (equal weights)', { ensembleId: plain.id });
  await add('selected on VALIDATION', { ensembleId: selected.id });
  const adjustedMetrics = await add('selected + logit adjustment', { ensembleId: adjusted.id });
  const softVote = adjustedMetrics.decisions?.find((d) => d.decision === 'SOFT_VOTE');
  if (record.comparison) {
    const studentArtifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: student.id } });
    await add('distilled mobilenet_v3_small', { artifactId: studentArtifact.id });
    if (record.baselineRunId) {
      const baseline = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: record.baselineRunId } });
      await add('mobilenet_v3_small without teacher', { artifactId: baseline.id });
    }
  }
  const tasks = adjustedMetrics.tasks.map((t) => `${t.name} top-1 / ACSA`);
  console.log(`\nheld-out TEST (${await services.db.item.count({ where: { datasetId, split: 'TEST' } })} items):`);
  console.log(table(['model', 'mean top-1', 'mean ACSA', ...tasks, 'MB', 'CPU ms'], rows));
  if (softVote)
    console.log(`the adjusted ensemble's own soft vote (no adjustment) on TEST: mean top-1 ${f3(softVote.meanTop1)}, mean ACSA ${f3(softVote.meanAcsa)}`);
  if (record.comparison) {
    const { compliance } = record.comparison;
    console.log(
      `student compliance: ${compliance.compliant ? 'yes' : 'NO'} (1 model, ${compliance.sizeMB.toFixed(1)} MB of ${compliance.limitMB}, ${compliance.cpuLatencyMs.toFixed(1)} ms per image on this CPU)`,
    );
  }
  console.log(`total ${seconds()} s`);
} finally {
  await app.close();
}
