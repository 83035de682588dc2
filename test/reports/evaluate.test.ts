import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { trainTinyPair } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let runIds: number[];
let datasetId: number;

const REPORT = `id split source itemCount meanTop1 meanAcsa durationMs
  run { id } artifact { id } ensemble { id }
  model { sizeMB parameterCount cpuLatencyMs }
  gainOverBestMember { meanTop1 meanAcsa bestMemberArtifactId }
  details { task name itemCount top1 topK acsa macroF1 weightedF1 mcc kappa gmeanRecall nll brier ece
    top1Interval { low high } acsaInterval { low high } reliability { count accuracy confidence }
    classes { index name support predicted precision recall f1 specificity } }
  confusionMatrices { task taskName classes rows normalized cells { trueClass predictedClass count rowShare } }
  worstConfusions(task: 0, limit: 5) { itemId imagePath bbox { xmin } trueClass { index name probability } predictedClass { index probability } }
  members { id artifact { id } meanTop1 meanAcsa itemCount confusionMatrices { rows } }`;

async function evaluate(input: Record<string, unknown>) {
  const answer = await gql(`mutation($input: EvaluateInput!) { evaluate(input: $input) { ${REPORT} } }`, { input });
  expect(answer.errors).toBeUndefined();
  return answer.data!.evaluate as Record<string, any>;
}

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('report test', 'trainer')).token);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 80, seed: 12, minSide: 64, maxSide: 96 });
  ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext));
  runIds = (await trainTinyPair(app, datasetId, { maxStepsPerEpoch: 3 })).map((r) => r.id);
});
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('evaluate', () => {
  it('reports two runs and their ensemble; every confusion matrix counts the split once per task', async () => {
    const reports = [];
    for (const runId of runIds) reports.push(await evaluate({ runId: String(runId) }));
    const artifacts = await app.services.db.modelArtifact.findMany({ orderBy: { id: 'asc' } });
    const ensemble = await app.services.ensembles.create({ name: 'both', members: artifacts.map((a) => ({ artifactId: a.id, weight: 1 })) });
    const combined = await evaluate({ ensembleId: String(ensemble.id), datasetId: String(datasetId), split: 'VALIDATION' });

    for (const report of [...reports, combined]) {
      expect(report).toMatchObject({ split: 'VALIDATION', source: 'evaluation', itemCount: 20 });
      expect(report.durationMs).toBeGreaterThan(0);
      expect(report.confusionMatrices.map((m: { classes: string[] }) => m.classes.length)).toEqual([7, 6, 3]);
      for (const matrix of report.confusionMatrices) {
        expect(matrix.rows.flat().reduce((a: number, b: number) => a + b, 0)).toBe(20);
        expect(matrix.cells).toHaveLength(matrix.classes.length ** 2);
        matrix.cells.forEach((cell: { trueClass: number; predictedClass: number; count: number }) => {
          expect(cell.count).toBe(matrix.rows[cell.trueClass][cell.predictedClass]);
        });
        matrix.normalized.forEach((row: number[], k: number) => {
          const support = matrix.rows[k].reduce((a: number, b: number) => a + b, 0);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(support === 0 ? 0 : 1, 12);
        });
      }
      for (const task of report.details) {
        expect(task.top1Interval.low).toBeLessThanOrEqual(task.top1);
        expect(task.top1Interval.high).toBeGreaterThanOrEqual(task.top1);
        expect(task.classes.reduce((s: number, c: { support: number }) => s + c.support, 0)).toBe(20);
        expect(task.reliability.reduce((s: number, b: { count: number }) => s + b.count, 0)).toBe(20);
      }
      expect(report.model.sizeMB).toBeGreaterThan(0.5);
      expect(report.model.cpuLatencyMs).toBeGreaterThan(0);
    }
    expect(reports[0]!.run.id).toBe(String(runIds[0]));

    // The ensemble lists both members, each scored on the same 20 items, and its gain over the best.
    expect(combined.ensemble.id).toBe(String(ensemble.id));
    expect(combined.members.map((m: { artifact: { id: string } }) => m.artifact.id)).toEqual(artifacts.map((a) => String(a.id)));
    for (const member of combined.members) expect(member.itemCount).toBe(20);
    const best = combined.members.reduce((b: any, m: any) => (m.meanAcsa > b.meanAcsa ? m : b));
    expect(combined.gainOverBestMember.meanAcsa).toBeCloseTo(combined.meanAcsa - best.meanAcsa, 12);
    expect(combined.gainOverBestMember.bestMemberArtifactId).toBe(best.artifact.id);
    // A member scored inside the ensemble's evaluation agrees with that artifact evaluated alone.
    const alone = reports.find((r) => r.artifact.id === combined.members[0].artifact.id)!;
    expect(combined.members[0].confusionMatrices.map((m: { rows: number[][] }) => m.rows)).toEqual(
      alone.confusionMatrices.map((m: { rows: number[][] }) => m.rows),
    );
    expect(combined.model.sizeMB).toBeCloseTo(reports[0]!.model.sizeMB + reports[1]!.model.sizeMB, 6);

    // Worst confusions are wrong predictions, most confident first.
    const worst = combined.worstConfusions as { trueClass: { index: number }; predictedClass: { index: number; probability: number } }[];
    for (const w of worst) expect(w.trueClass.index).not.toBe(w.predictedClass.index);
    expect(worst.map((w) => w.predictedClass.probability)).toEqual([...worst.map((w) => w.predictedClass.probability)].sort((a, b) => b - a));

    const listed = await gql('{ reports { id ensemble { id } } }');
    expect(listed.data?.reports.filter((r: { ensemble: { id: string } | null }) => r.ensemble).length).toBe(1);
  });

  it('refuses an unclear target and an empty split', async () => {
    const both = await gql(`mutation { evaluate(input: { runId: "1", artifactId: "1" }) { id } }`);
    expect(both.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: 'evaluate exactly one of runId, artifactId, ensembleId' });
    const test = await gql(`mutation { evaluate(input: { artifactId: "1", datasetId: "${datasetId}", split: TEST }) { id } }`);
    expect(test.errors?.[0]?.message).toBe(`dataset ${datasetId} has no TEST items to evaluate`);
  });
});
