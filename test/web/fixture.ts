// A database the dashboard can show: a synthetic dataset, two finished tiny runs, their ensemble and
// its evaluation report. Used by the browser tests and by `npm run screenshots`.
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
  const trainer = (await app.services.tokens.create('dashboard', 'trainer')).token;
  return { synthetic, datasetId, runs, artifacts, ensemble, report, trainer };
}
