// A database the dashboard can show: a synthetic dataset, two finished tiny runs, their ensemble and
// its evaluation report. Used by the browser tests and by `npm run screenshots`.
import path from 'node:path';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';

export async function buildDashboardFixture(app: App, dir: string) {
  const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count: 120, seed: 31, minSide: 64, maxSide: 128 });
  const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, name: 'synthetic fixture' }, app.services.importContext);
  const runs = await app.services.training.startTraining({
    datasetId,
    backbones: ['mobilenet_v3_small'],
    heads: ['feedforward', 'residual'],
    options: { imageSize: 32, epochs: 2, batchSize: 16, maxStepsPerEpoch: 3, hiddenSize: 16, cutmix: 'off', dataLoaderWorkers: 0, threads: 1 },
  });
  await app.services.training.waitFor(runs.map((r) => r.id));
  const artifacts = await app.services.db.modelArtifact.findMany({ orderBy: { id: 'asc' } });
  const ensemble = await app.services.ensembles.create({ name: 'fixture pair', members: artifacts.map((a) => ({ artifactId: a.id, weight: 1 })) });
  const report = await app.services.evaluation.evaluate({ ensembleId: ensemble.id, datasetId, split: 'VALIDATION' });
  const trainer = (await app.services.tokens.create('dashboard', 'trainer')).token;
  return { synthetic, datasetId, runs, artifacts, ensemble, report, trainer };
}
