import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { type SynthRow, writeSyntheticDataset } from '../../src/data/synth.js';
import type { ReportMetrics } from '../../src/reports/evaluate.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

// fitEnsemble end to end: a 60:20:20 import, two tiny trained models, a fit on VALIDATION, reports on TEST; and
// classify's temperatures and logit adjustment checked against the formulas computed here by hand.
const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let trainer: ReturnType<typeof graphqlClient>;
let reader: ReturnType<typeof graphqlClient>;
let datasetId: number;
let artifactIds: number[];
let rows: SynthRow[];
let imageRoot: string;

const FIT = `mutation($input: FitEnsembleInput!) { fitEnsemble(input: $input) { id name members { weight temperatures artifact { id } }
  fit { metric split itemCount rounds bestStep score bestMemberScore bestMemberArtifactId temperatureScaling candidates { artifact { id } score picks temperatures } steps { artifactId score } }
  logitAdjustment { task tau plainAcsa adjustedAcsa plainTop1 adjustedTop1 } logitAdjustmentOptimised } }`;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  trainer = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('fit test', 'trainer')).token);
  reader = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('fit reader', 'reader')).token);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 100, seed: 12, minSide: 64, maxSide: 96 });
  ({ rows, imageRoot } = synthetic);
  ({ datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot, validationFraction: 0.2, testFraction: 0.2 }, app.services.importContext));
  artifactIds = await importTinyPair(app);
  expect(artifactIds).toHaveLength(2);
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await server.close();
  await app.close();
});

describe('import with a TEST fraction', () => {
  it('holds out exactly round(n x fraction) items per split, stratified', async () => {
    const counts = await app.services.datasets.splitCounts(datasetId);
    expect(Object.fromEntries(counts.map((c) => [c.split, c.count]))).toEqual({ TRAIN: 60, VALIDATION: 20, TEST: 20 });
    expect((await app.services.datasets.get(datasetId)).testFraction).toBe(0.2);
  });
});

describe('fitEnsemble', () => {
  it('selects weights that score at least the best member on the fitting split, and records how', async () => {
    const { data, errors } = await trainer(FIT, {
      input: { name: 'fitted', artifactIds: artifactIds.map(String), datasetId: String(datasetId), logitAdjustment: true, rounds: 6, metric: 'MEAN_ACSA' },
    });
    expect(errors).toBeUndefined();
    const ensemble = data!.fitEnsemble;
    const fit = ensemble.fit;
    expect(fit).toMatchObject({ metric: 'MEAN_ACSA', split: 'VALIDATION', itemCount: 20, rounds: 6, temperatureScaling: true });
    expect(fit.steps).toHaveLength(6);
    expect(fit.score).toBeGreaterThanOrEqual(fit.bestMemberScore);
    expect(fit.score).toBe(fit.steps[fit.bestStep - 1].score);
    // Each candidate's score is its own mean ACSA on VALIDATION, as an evaluation of it alone reports it
    // (temperatures never change an arg-max).
    for (const candidate of fit.candidates) {
      const report = await app.services.evaluation.evaluate({ artifactId: Number(candidate.artifact.id), datasetId, split: 'VALIDATION' });
      expect(candidate.score).toBeCloseTo((report.metrics as unknown as ReportMetrics).meanAcsa, 12);
      expect(candidate.temperatures).toHaveLength(3);
    }
    expect(fit.bestMemberScore).toBe(Math.max(...fit.candidates.map((c: { score: number }) => c.score)));
    // Members are the picked candidates, weighted by their picks, with their temperatures.
    const picked = fit.candidates.filter((c: { picks: number }) => c.picks > 0);
    expect(picked.reduce((s: number, c: { picks: number }) => s + c.picks, 0)).toBe(fit.bestStep);
    expect(
      ensemble.members.map((m: { weight: number; temperatures: number[]; artifact: { id: string } }) => [m.artifact.id, m.weight, m.temperatures]),
    ).toEqual(picked.map((c: { artifact: { id: string }; picks: number; temperatures: number[] }) => [c.artifact.id, c.picks, c.temperatures]));
    expect(ensemble.logitAdjustment.map((a: { task: string }) => a.task)).toEqual(['Daily', 'Gender', 'Embellishment']);
    for (const task of ensemble.logitAdjustment) expect(task.adjustedAcsa).toBeGreaterThanOrEqual(task.plainAcsa);
    expect(ensemble.logitAdjustmentOptimised).toBe('MEAN_ACSA');
  });

  it("optimises the dataset's ranking metric (MEAN_TOP1 by default): never a lower top-1 on the fitting split", async () => {
    expect((await app.services.datasets.get(datasetId)).rankingMetric).toBe('MEAN_TOP1');
    const { data, errors } = await trainer(FIT, {
      input: { name: 'fitted for top-1', artifactIds: artifactIds.map(String), datasetId: String(datasetId), logitAdjustment: true, rounds: 6 },
    });
    expect(errors).toBeUndefined();
    const { fit, logitAdjustment, logitAdjustmentOptimised, id } = data!.fitEnsemble;
    expect(fit.metric).toBe('MEAN_TOP1');
    expect(logitAdjustmentOptimised).toBe('MEAN_TOP1');
    // Each candidate's score is its mean top-1 on VALIDATION, as its own evaluation reports it.
    for (const candidate of fit.candidates) {
      const report = await app.services.evaluation.evaluate({ artifactId: Number(candidate.artifact.id), datasetId, split: 'VALIDATION' });
      expect(candidate.score).toBeCloseTo((report.metrics as unknown as ReportMetrics).meanTop1, 12);
    }
    expect(fit.score).toBeGreaterThanOrEqual(fit.bestMemberScore);
    // The adjustment is kept per task only where it does not lower top-1 (tau 0 otherwise).
    for (const task of logitAdjustment) {
      expect(task.adjustedTop1).toBeGreaterThanOrEqual(task.plainTop1);
      if (task.adjustedTop1 === task.plainTop1) expect(task.tau).toBe(0);
    }
    // And the stored ensemble, evaluated on the fitting split, has at least the best member's mean top-1.
    const ensembleReport = (await app.services.evaluation.evaluate({ ensembleId: Number(id), datasetId, split: 'VALIDATION' }))
      .metrics as unknown as ReportMetrics;
    expect(ensembleReport.meanTop1).toBeGreaterThanOrEqual(fit.bestMemberScore - 1e-12);
  });

  it('refuses bad requests with the reason', async () => {
    const base = { name: 'bad', artifactIds: artifactIds.map(String), datasetId: String(datasetId) };
    const cases: [object, string, RegExp][] = [
      [{ ...base, artifactIds: ['999'] }, 'NOT_FOUND', /artifact 999/],
      [{ ...base, rounds: 0 }, 'BAD_USER_INPUT', /rounds must be an integer from 1 to 100, got 0/],
      [{ ...base, name: 'fitted' }, 'CONFLICT', /already exists/],
      [{ ...base, split: 'TRAIN', datasetId: '999' }, 'NOT_FOUND', /dataset 999/],
    ];
    for (const [input, code, message] of cases) {
      const { errors } = await trainer(FIT, { input });
      expect(errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe(code);
      expect(errors?.[0]?.message).toMatch(message);
    }
    const refused = await reader(FIT, { input: base });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('temperatures and logit adjustment in classify and reports', () => {
  const temperatures = [
    [2, 0.5, 1],
    [1, 3, 0.25],
  ];
  const adjustment = {
    tasks: [
      { task: 'Daily', tau: 1, logPrior: [0.5, 0.1, 0.05, 0.05, 0.1, 0.1, 0.1].map(Math.log), plainAcsa: 0, adjustedAcsa: 0 },
      { task: 'Gender', tau: 0, logPrior: new Array(6).fill(Math.log(1 / 6)), plainAcsa: 0, adjustedAcsa: 0 },
      { task: 'Embellishment', tau: 0.5, logPrior: [0.8, 0.15, 0.05].map(Math.log), plainAcsa: 0, adjustedAcsa: 0 },
    ],
  };

  it('scales each member by its temperature, votes by weight, then adjusts by the prior', async () => {
    const adjusted = await app.services.ensembles.create({
      name: 'hand-made',
      members: artifactIds.map((artifactId, m) => ({ artifactId, weight: m + 1, temperatures: temperatures[m] })),
      logitAdjustment: adjustment,
    });
    const image = await readFile(path.join(imageRoot, rows[0]!.imageName));
    const outcome = await app.services.classify.classify({ images: [{ image, bbox: rows[0]!.bbox }], ensembleId: adjusted.id, includeMembers: true });
    for (const [t, task] of outcome.results[0]!.entries()) {
      // By hand: p^(1/T) normalised per member, weights 1 and 2 of 3, then p x prior^-tau normalised.
      const scaled = task.members!.map((member, m) => {
        const powered = member.probabilities.map((p) => p ** (1 / temperatures[m]![t]!));
        return powered.map((p) => p / powered.reduce((a, b) => a + b, 0));
      });
      const vote = scaled[0]!.map((_, k) => (1 / 3) * scaled[0]![k]! + (2 / 3) * scaled[1]![k]!);
      const { tau, logPrior } = adjustment.tasks[t]!;
      const unnormalised = vote.map((p, k) => p * Math.exp(-tau * logPrior[k]!));
      const expected = unnormalised.map((p) => p / unnormalised.reduce((a, b) => a + b, 0));
      task.probabilities.forEach((p, k) => {
        expect(p).toBeCloseTo(expected[k]!, 9);
      });
      if (tau === 0) expect(task.softVote).toBeUndefined();
      else
        task.softVote!.forEach((p, k) => {
          expect(p).toBeCloseTo(vote[k]!, 9);
        });
    }
  });

  it('reports the soft vote and the adjusted decision side by side', async () => {
    const adjusted = (await app.services.ensembles.list()).find((e) => e.name === 'hand-made')!;
    const plain = await app.services.ensembles.create({
      name: 'hand-made, plain',
      members: artifactIds.map((artifactId, m) => ({ artifactId, weight: m + 1, temperatures: temperatures[m] })),
    });
    const withAdjustment = (await app.services.evaluation.evaluate({ ensembleId: adjusted.id, datasetId, split: 'TEST' })).metrics as unknown as ReportMetrics;
    const without = (await app.services.evaluation.evaluate({ ensembleId: plain.id, datasetId, split: 'TEST' })).metrics as unknown as ReportMetrics;
    expect(without.decisions).toBeUndefined();
    const [softVote, logitAdjusted] = withAdjustment.decisions!;
    expect(softVote!.decision).toBe('SOFT_VOTE');
    expect(softVote!.meanAcsa).toBeCloseTo(without.meanAcsa, 12);
    expect(softVote!.meanTop1).toBeCloseTo(without.meanTop1, 12);
    expect(logitAdjusted!.decision).toBe('LOGIT_ADJUSTED');
    expect(logitAdjusted!.meanAcsa).toBeCloseTo(withAdjustment.meanAcsa, 12);
    // Gender has tau 0: both decisions agree there.
    expect(logitAdjusted!.tasks[1]).toEqual(softVote!.tasks[1]);
  });
});
