// `fashion-how demo`: the whole platform on synthetic data in a few minutes on a 2-core CPU: generate,
// import, train two combos, evaluate them and their ensemble, serve, and show one classify answer.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunningServer } from '../api/server.js';
import type { App } from '../app.js';
import { importDataset } from '../data/import.js';
import { writeSyntheticDataset } from '../data/synth.js';
import type { ReportMetrics } from '../reports/evaluate.js';
import { f3 } from '../reports/metricsTable.js';
import { FashionHowClient } from '../sdk/index.js';
import type { Hyperparameters } from '../training/hyper.js';
import { describeFit } from './ensemble.js';
import { table } from './format.js';
import { createProgress } from './progress.js';
import { startServer } from './session.js';
import { followRuns } from './train.js';

export interface DemoOptions {
  seed: number;
  count: number;
  /** The seed's full recipe: 224 px, resnet152 + densenet161, 3 epochs, batch 64, offline CutMix x4. */
  full: boolean;
  gpu: boolean;
}

/** Small enough for a 2-core CPU: resnet18 at 64 px with both heads; a weaker second backbone (mobilenet_v3_small)
 *  was measured to drag the ensemble below its best member. */
const QUICK = {
  backbones: ['resnet18'],
  heads: ['feedforward', 'residual'],
  options: { epochs: 3, batchSize: 32, imageSize: 64, cutmix: 'offline', cutmixCopies: 1 } as Partial<Hyperparameters>,
};
/** 70:15:15: the ensemble is fitted on VALIDATION and judged on TEST, items it never saw. */
const SPLIT = { validationFraction: 0.15, testFraction: 0.15 };
const FULL = { backbones: ['resnet152', 'densenet161'], heads: ['feedforward', 'residual'], options: {} as Partial<Hyperparameters> };

export async function runDemo(app: App, options: DemoOptions): Promise<RunningServer> {
  const started = performance.now();
  const { services, config } = app;
  // The realistic difficulty: the standard images are learnt perfectly, so their held-out figures say nothing.
  const out = path.join(config.dataDir, `synth-realistic-seed${options.seed}-n${options.count}`);
  const csvPath = path.join(out, 'train.csv');
  if (existsSync(csvPath)) console.log(`1. reusing the synthetic dataset in ${out}`);
  else {
    const progress = createProgress('1. synthesising images');
    const written = await writeSyntheticDataset({
      out,
      count: options.count,
      seed: options.seed,
      minSide: 96,
      maxSide: 200,
      difficulty: 'realistic',
      onProgress: (d, t) => progress.update(d, t),
    });
    progress.stop();
    console.log(
      `   realistic difficulty, ${Math.round(written.labelNoise * 100)} % label noise: no model can pass top-1 ${written.ceiling[0]!.top1.toFixed(3)} per task (ACSA ceilings ${written.ceiling.map((c) => c.acsa.toFixed(3)).join(', ')})`,
    );
  }
  const imported = await importDataset(
    { csvPath, imageRoot: path.join(out, 'images'), name: `synthetic seed ${options.seed}`, ...SPLIT },
    services.importContext,
  );
  const splits = await services.datasets.splitCounts(imported.datasetId);
  console.log(
    `2. dataset ${imported.datasetId}: ${imported.itemCount} items (${splits.map((s) => `${s.split.toLowerCase()} ${s.count}`).join(', ')})${imported.created ? '' : ', imported before'}`,
  );

  const recipe = options.full || options.gpu ? FULL : QUICK;
  const name = `demo seed ${options.seed}${recipe === FULL ? ' full' : ''}${options.gpu ? ' gpu' : ''}`;
  let ensemble = (await services.ensembles.list()).find((e) => e.name === name);
  if (ensemble) {
    console.log(`3. reusing ensemble ${ensemble.id} "${name}" trained by an earlier demo`);
  } else {
    console.log(`3. training ${recipe.backbones.length * recipe.heads.length} runs: ${recipe.backbones.join(', ')} x ${recipe.heads.join(', ')}`);
    await services.training.startWorker();
    const runs = await services.training.startTraining({
      datasetId: imported.datasetId,
      backbones: recipe.backbones,
      heads: recipe.heads,
      options: { ...recipe.options, seed: options.seed, ...(options.gpu ? { device: 'cuda' } : {}) },
    });
    const finished = await followRuns(app, runs);
    const failed = finished.filter((r) => r.status !== 'SUCCEEDED');
    if (failed.length > 0) throw new Error(`demo training failed: ${failed.map((r) => `run ${r.id}: ${r.error}`).join('; ')}`);
    const artifacts = await services.db.modelArtifact.findMany({ where: { runId: { in: finished.map((r) => r.id) } }, orderBy: { id: 'asc' } });
    // Fitted to win on VALIDATION (greedy selection, temperatures, logit adjustment), judged on TEST.
    ensemble = await services.fitter.fit({
      name,
      artifactIds: artifacts.map((a) => a.id),
      datasetId: imported.datasetId,
      split: 'VALIDATION',
      logitAdjustment: true,
      makeDefault: true,
    });
    console.log(describeFit(ensemble).replace(/^/gm, '   '));
  }
  await services.ensembles.setDefault(ensemble.id);

  const heldOut = splits.some((s) => s.split === 'TEST' && s.count > 0);
  const step = ['4. fitting split (VALIDATION)', heldOut ? '5. held-out split (TEST)' : null];
  for (const [i, split] of (['VALIDATION', 'TEST'] as const).entries()) {
    if (!step[i]) {
      console.log('5. no TEST split: this dataset was imported before with 75:25, so there is no held-out check');
      continue;
    }
    const report = await services.evaluation.evaluate({ ensembleId: ensemble.id, datasetId: imported.datasetId, split });
    console.log(`${step[i]}: report ${report.id}, ${report.itemCount} items, ${(report.durationMs / 1000).toFixed(1)} s through the serving path`);
    console.log(await membersVersusEnsemble(app, report.id, name).then((lines) => lines.replace(/^/gm, '   ')));
  }
  const { token } = await services.tokens.create(`demo admin (seed ${options.seed})`, 'admin');
  const server = await startServer(app);
  await app.warmDefaultEnsemble();

  // One classify call through the server, as a client would make it.
  const item = await services.db.item.findFirstOrThrow({
    where: { datasetId: imported.datasetId, split: 'VALIDATION' },
    orderBy: { id: 'asc' },
    include: { labels: { orderBy: { task: 'asc' } } },
  });
  const imagePath = path.join(out, 'images', item.imagePath);
  const bbox = { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax };
  const client = new FashionHowClient({ endpoint: server.graphqlUrl, token });
  const [answer] = await client.classify([{ image: imagePath, bbox }]);
  // The GraphQL multipart request spec: the operation as one field, the image as a binary file part.
  const requestFile = path.join(config.dataDir, 'demo-classify.json');
  await writeFile(
    requestFile,
    JSON.stringify({
      query: 'query($input: ClassifyInput!) { classify(input: $input) { model results { tasks { task predicted { name probability } } } } }',
      variables: { input: { images: [{ file: null, bbox }] } },
    }),
  );
  const { tasks } = await services.datasets.labelSchema((await services.datasets.get(imported.datasetId)).labelSchemaId);

  console.log('');
  console.log(`dashboard:        ${server.url}/  (paste the admin token top right to train and build ensembles from it)`);
  console.log(`GraphQL endpoint: ${server.graphqlUrl}`);
  console.log(`admin token:      ${token}`);
  console.log(`example classify: curl -s ${server.graphqlUrl} -H 'Apollo-Require-Preflight: true' -F 'operations=<${requestFile}' \\`);
  console.log(`                    -F 'map={"0":["variables.input.images.0.file"]}' -F '0=@"${imagePath}"'`);
  console.log(`                  (item ${item.id}: ${item.imagePath}, bbox ${bbox.xmin},${bbox.ymin},${bbox.xmax},${bbox.ymax})`);
  for (const [t, task] of answer!.tasks.entries()) {
    const truth = tasks[t]!.classes[item.labels[t]!.classIndex]!;
    console.log(`  ${task.task.padEnd(14)} ${task.predicted.name} (${(task.predicted.probability * 100).toFixed(1)}%), true class: ${truth}`);
  }
  console.log(`\ndemo ready in ${((performance.now() - started) / 1000).toFixed(0)} s; serving until Ctrl-C`);
  return server;
}

/** Members and the ensemble side by side on one report's items, and whether the ensemble wins there. */
async function membersVersusEnsemble(app: App, reportId: number, name: string): Promise<string> {
  const { db } = app.services;
  const report = await db.evaluationReport.findUniqueOrThrow({ where: { id: reportId } });
  const metrics = report.metrics as unknown as ReportMetrics;
  const members = await db.evaluationReport.findMany({ where: { parentReportId: report.id }, orderBy: { id: 'asc' } });
  const artifacts = await db.modelArtifact.findMany({ where: { id: { in: members.map((m) => m.artifactId!) } } });
  const row = (label: string, m: { meanTop1: number; meanAcsa: number; tasks: { acsa: number }[] }) => [
    label,
    f3(m.meanTop1),
    f3(m.meanAcsa),
    ...m.tasks.map((t) => f3(t.acsa)),
  ];
  const rows = members.map((m) => row(artifacts.find((a) => a.id === m.artifactId)!.name, m.metrics as unknown as ReportMetrics));
  const softVote = metrics.decisions?.find((d) => d.decision === 'SOFT_VOTE');
  if (softVote) rows.push(row(`ensemble "${name}", soft vote only`, softVote));
  rows.push(row(`ensemble "${name}"${softVote ? ', logit-adjusted' : ''}`, metrics));
  // Judged by what the dataset is ranked by (the fit optimised it), with the other figure in the table.
  const ranking = (await db.dataset.findUniqueOrThrow({ where: { id: report.datasetId! } })).rankingMetric === 'MEAN_ACSA' ? 'meanAcsa' : 'meanTop1';
  const label = ranking === 'meanAcsa' ? 'mean ACSA' : 'mean top-1';
  const score = (m: { metrics: unknown }) => (m.metrics as ReportMetrics)[ranking];
  const beaten = members.filter((m) => score(m) >= metrics[ranking]);
  const verdict =
    beaten.length === 0
      ? `the ensemble beats each member's ${label} here (by ${f3(metrics.gain![ranking])} over the best)`
      : `the ensemble does NOT beat every member here: its ${label} ${f3(metrics[ranking])} is not above ${beaten.map((m) => `artifact ${m.artifactId} (${f3(score(m))})`).join(', ')}`;
  return `${table(['model', 'mean top-1', 'mean ACSA', ...metrics.tasks.map((t) => `${t.name} ACSA`)], rows)}\n${verdict}`;
}
