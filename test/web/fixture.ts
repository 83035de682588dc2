// A database the dashboard can show: a synthetic dataset, two finished tiny runs, their ensemble and
// its evaluation report, a label-issue scan, and a small sweep. Used by the browser tests and by `npm run screenshots`.
import path from 'node:path';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { trainTinyPair } from '../fixtures/training.js';

export async function buildDashboardFixture(app: App, dir: string) {
  const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count: 120, seed: 31, minSide: 64, maxSide: 128 });
  const { datasetId } = await importDataset(
    { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, name: 'synthetic fixture' },
    app.services.importContext,
  );
  const runs = await trainTinyPair(app, datasetId, { epochs: 2, maxStepsPerEpoch: 3 });
  const artifacts = await app.services.db.modelArtifact.findMany({ orderBy: { id: 'asc' } });
  const ensemble = await app.services.ensembles.create({ name: 'fixture pair', members: artifacts.map((a) => ({ artifactId: a.id, weight: 1 })) });
  const report = await app.services.evaluation.evaluate({ ensembleId: ensemble.id, datasetId, split: 'VALIDATION' });
  // The validation labels scanned with the ensemble's probabilities, for the label review page.
  const labelScan = await app.services.labelReview.find({ datasetId, ensembleId: ensemble.id, split: 'VALIDATION' });
  // A small ASHA sweep (three trials, one rung) for the sweep pages.
  const sweep = await app.services.sweeps.start({
    datasetId,
    backbone: 'mobilenet_v3_small',
    head: 'feedforward',
    trials: 3,
    reductionFactor: 2,
    seed: 2,
    space: { learningRate: { min: 1e-6, max: 1e-2, log: true } },
    options: {
      epochs: 2,
      maxStepsPerEpoch: 3,
      imageSize: 32,
      batchSize: 8,
      hiddenSize: 16,
      cutmix: 'off',
      pretrained: 'none',
      dataLoaderWorkers: 0,
      threads: 1,
    },
  });
  await app.services.training.waitFor((await app.services.sweeps.trials(sweep.id)).map((t) => t.run.id));
  const trainer = (await app.services.tokens.create('dashboard', 'trainer')).token;
  return { synthetic, datasetId, runs, artifacts, ensemble, report, labelScan, trainer, sweep };
}
