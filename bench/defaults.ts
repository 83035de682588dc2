// Which training defaults hold on held-out data of two kinds (the realistic synthetic data and the
// silhouette data, built differently), side by side on each kind's TEST split:
//   - the platform's previous default: resnet18, a time budget that picks the side (64 px here) and epochs
//   - the practitioner's loop on the compact family (compact_s at 32 px: weight average, one-cycle
//     schedule, shifts, label smoothing, test-time flips) in the same time budget
//   - that recipe with each of its parts switched off (or one more switched on), at the epochs it ran,
//     so each row differs from it by one choice whatever the host's speed did meanwhile
//   - a practitioner's first script (bench/plain_baseline.py, independent of the worker) in the same budget
//   - with --race SECONDS: a race (--preset best, or fast or compliant) in that budget: its best single
//     model and, where the preset fits one, its finalists' ensemble
// Each row: mean top-1, mean ACSA, top-1 / ACSA per task, the model's size and wall time.
//   npm run bench:defaults -- [--count 2000] [--budget 240] [--kinds realistic,silhouette] [--race 600] [--preset best] [--only race]
//                             [--ablations cheap|none] [--keep DIR]
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openApp } from '../src/app.js';
import { table } from '../src/cli/format.js';
import { loadConfig } from '../src/config.js';
import { importDataset } from '../src/data/import.js';
import { DEFAULT_LABEL_SCHEMA } from '../src/data/labelSchema.js';
import { type SynthDifficulty, writeSyntheticDataset } from '../src/data/synth.js';
import { mean } from '../src/numeric.js';
import type { ReportMetrics } from '../src/reports/evaluate.js';
import { taskMetrics } from '../src/reports/metrics.js';
import { f3 } from '../src/reports/metricsTable.js';
import type { Hyperparameters } from '../src/training/hyper.js';
import { findPython } from '../src/training/python.js';
import { RACE_RECIPE, type RacePreset } from '../src/training/race.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const count = Number(arg('count', '2000'));
const budget = Number(arg('budget', '240'));
const kinds = arg('kinds', 'realistic,silhouette').split(',') as SynthDifficulty[];
const raceBudget = Number(arg('race', '0'));
const preset = arg('preset', 'best') as RacePreset;
const onlyRace = arg('only', '') === 'race';
/** cheap: leave out the two ablations that cost several times the others (resnet18's small stem, 48 px). */
const ablationSet = arg('ablations', 'all'); // all | cheap (without the two slow ones) | none
const cheapAblations = ablationSet === 'cheap';
const keepIndex = process.argv.indexOf('--keep');
const dir = keepIndex > 0 ? process.argv[keepIndex + 1]! : await mkdtemp(path.join(os.tmpdir(), 'fashion-how-defaults-'));
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(0);

const app = await openApp(loadConfig({ FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' }));
const { services } = app;
const header = ['model', 'mean top-1', 'mean ACSA', ...DEFAULT_LABEL_SCHEMA.tasks.map((t) => `${t.name} top-1 / ACSA`), 'MB', 'wall s'];
const cells = (m: { meanTop1: number; meanAcsa: number; tasks: { top1: number; acsa: number }[] }) => [
  f3(m.meanTop1),
  f3(m.meanAcsa),
  ...m.tasks.map((t) => `${f3(t.top1)} / ${f3(t.acsa)}`),
];

/** The practitioner's loop on the compact family, as a race trains every candidate: what the new defaults are measured as. */
const PRACTITIONER = RACE_RECIPE;

try {
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${count} items per kind, split 70:15:15, budget ${budget} s per model`);
  for (const difficulty of kinds) {
    const synthetic = await writeSyntheticDataset({ out: path.join(dir, difficulty), count, seed: 7, minSide: 96, maxSide: 200, difficulty });
    console.log(
      `\n## ${difficulty}: label noise ${synthetic.labelNoise}, noise ceiling ${synthetic.ceiling.map((c) => `${DEFAULT_LABEL_SCHEMA.tasks[c.task]!.name} ${f3(c.top1)} / ${f3(c.acsa)}`).join(', ')}`,
    );
    const { datasetId } = await importDataset(
      { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, validationFraction: 0.15, testFraction: 0.15 },
      services.importContext,
    );
    const rows: string[][] = [];
    const train = async (label: string, backbone: string, options: Partial<Hyperparameters>) => {
      const [run] = await services.training.startTraining({
        datasetId,
        combos: [{ backbone, head: 'feedforward' }],
        options: { pretrained: 'none', seed: 1, ...options },
      });
      await services.training.waitFor([run!.id]);
      const done = await services.training.get(run!.id);
      if (done.status !== 'SUCCEEDED') throw new Error(`${label}: run ${done.id} ${done.status}: ${done.error}`);
      const wall = (done.finishedAt!.getTime() - done.startedAt!.getTime()) / 1000;
      const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: done.id } });
      const report = await services.evaluation.evaluate({ artifactId: artifact.id, datasetId, split: 'TEST' });
      const selection = (done.progress as { selection?: { epochsRun: number; bestEpoch: number; weights?: string } } | null)?.selection;
      console.log(
        `[${seconds()} s] ${label}: ${wall.toFixed(0)} s, ${selection?.epochsRun} epochs, kept epoch ${selection?.bestEpoch} (${selection?.weights})`,
      );
      rows.push([label, ...cells(report.metrics as unknown as ReportMetrics), (artifact.sizeBytes / 1e6).toFixed(1), wall.toFixed(0)]);
      return selection?.epochsRun ?? 1;
    };

    if (raceBudget > 0) {
      const begun = performance.now();
      const sweep = await services.races.start({ datasetId, budgetSeconds: raceBudget, preset });
      await services.races.waitFor(sweep.id);
      const { race } = await services.races.get(sweep.id);
      if (race.status !== 'SUCCEEDED') throw new Error(`race ${sweep.id} ${race.status}: ${race.note}`);
      const wall = (performance.now() - begun) / 1000;
      const best = race.candidates[race.best!.candidate]!;
      console.log(
        `[${seconds()} s] race ${sweep.id}: ${race.rungs.map((r) => `${r.entries.length} x ${r.secondsPerRun} s`).join(', ')}; best ${best.backbone} @ ${best.imageSize} px`,
      );
      const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { id: race.best!.artifactId! } });
      const single = await services.evaluation.evaluate({ artifactId: artifact.id, datasetId, split: 'TEST' });
      rows.push([
        `race (${preset}, ${raceBudget} s): its best single model, ${best.backbone} @ ${best.imageSize} px`,
        ...cells(single.metrics as unknown as ReportMetrics),
        (artifact.sizeBytes / 1e6).toFixed(1),
        wall.toFixed(0),
      ]);
      if (race.ensembleId) {
        const ensemble = await services.evaluation.evaluate({ ensembleId: race.ensembleId, datasetId, split: 'TEST' });
        const members = await services.db.ensembleMember.findMany({ where: { ensembleId: race.ensembleId }, include: { artifact: true } });
        const sizes = new Map(members.map((m) => [m.artifact.id, m.artifact.sizeBytes]));
        const bytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);
        rows.push([
          `race (${preset}, ${raceBudget} s): the finalists' fitted ensemble`,
          ...cells(ensemble.metrics as unknown as ReportMetrics),
          (bytes / 1e6).toFixed(1),
          wall.toFixed(0),
        ]);
      }
    }
    if (onlyRace) {
      console.log(`\n${difficulty}, held-out TEST split (${Math.round(count * 0.15)} items):\n${table(header, rows)}`);
      continue;
    }
    await train('previous default: resnet18, budget (side by probe)', 'resnet18', { timeBudgetSeconds: budget, imageSize: 64 });
    const epochs = await train('practitioner loop: compact_s 32 px, budget', 'compact_s', {
      ...PRACTITIONER,
      imageSize: 32,
      timeBudgetSeconds: budget,
      budgetImageSizes: [32],
    });
    const fixed = { ...PRACTITIONER, imageSize: 32, epochs };
    const ablations: [string, string, Partial<Hyperparameters>][] = [
      ['  without the weight average', 'compact_s', { emaDecay: 0 }],
      ['  linear schedule instead of one-cycle', 'compact_s', { lrSchedule: 'linear' }],
      ['  without shifts', 'compact_s', { randomShift: 0 }],
      ['  without label smoothing', 'compact_s', { labelSmoothing: 0 }],
      ['  without test-time flips', 'compact_s', { testTimeFlip: false }],
      ['  with random erasing 0.25', 'compact_s', { randomErasing: 0.25 }],
      ['  resnet18 with the small-input stem', 'resnet18', { smallInputStem: true }],
      ['  at 48 px', 'compact_s', { imageSize: 48 }],
    ];
    const costly = (label: string) => /small-input stem|48 px/.test(label);
    for (const [label, backbone, change] of ablations) {
      if (ablationSet === 'none' || (cheapAblations && costly(label))) continue;
      await train(label, backbone, { ...fixed, ...change });
    }

    // The practitioner's own script on the same split, in the same budget.
    const items = await services.db.item.findMany({ where: { datasetId }, include: { labels: true }, orderBy: { id: 'asc' } });
    const itemsFile = path.join(dir, `${difficulty}-items.jsonl`);
    await writeFile(
      itemsFile,
      items
        .map((i) =>
          JSON.stringify({
            id: i.id,
            path: path.join(synthetic.imageRoot, i.imagePath),
            bbox: [i.xmin, i.ymin, i.xmax, i.ymax],
            labels: [...i.labels].sort((a, b) => a.task - b.task).map((l) => l.classIndex),
            split: i.split,
          }),
        )
        .join('\n'),
    );
    const python = await findPython();
    const out = path.join(dir, `${difficulty}-plain.json`);
    const begun = performance.now();
    await promisify(execFile)(python.executable, [path.join(import.meta.dirname, 'plain_baseline.py'), itemsFile, out, '--budget', String(budget)], {
      maxBuffer: 1 << 24,
    });
    const plain = JSON.parse(await readFile(out, 'utf8')) as { itemIds: number[]; probabilities: number[][][]; epochs: number };
    const byId = new Map(items.map((i) => [i.id, i]));
    const tasks = DEFAULT_LABEL_SCHEMA.tasks.map((task, t) => {
      const truth = plain.itemIds.map((id) => byId.get(id)!.labels.find((l) => l.task === t)!.classIndex);
      return taskMetrics(truth, plain.probabilities[t]!, task.classes.length);
    });
    const wall = (performance.now() - begun) / 1000;
    console.log(`[${seconds()} s] practitioner's script: ${wall.toFixed(0)} s, ${plain.epochs} epochs`);
    rows.push([
      "a practitioner's first script (bench/plain_baseline.py)",
      ...cells({ meanTop1: mean(tasks.map((t) => t.top1)), meanAcsa: mean(tasks.map((t) => t.acsa)), tasks }),
      '2.8',
      wall.toFixed(0),
    ]);
    console.log(`\n${difficulty}, held-out TEST split (${Math.round(count * 0.15)} items):\n${table(header, rows)}`);
  }
} finally {
  await app.close();
}
