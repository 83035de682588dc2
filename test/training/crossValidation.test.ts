// k-fold cross-validation through GraphQL and real workers: the fold runs, out-of-fold predictions that
// cover every TRAIN and VALIDATION item exactly once (each predicted by the fold model that did not
// train on it, read back from the items file each run trained from), figures re-derived from the stored
// probabilities, the fold ensemble, and an ensemble fitted on the out-of-fold predictions.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { eventually, graphqlClient, openTestApp, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: string;

const TINY = {
  imageSize: 32,
  batchSize: 8,
  hiddenSize: 16,
  cutmix: 'OFF',
  dataLoaderWorkers: 0,
  threads: 1,
  pretrained: 'none',
  maxStepsPerEpoch: 4,
  epochs: 1,
};

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer({ ...app, config: { ...app.config, port: 0 } });
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('cv test', 'trainer')).token);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 60, seed: 8, minSide: 48, maxSide: 72 });
  datasetId = String((await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId);
});

afterAll(async () => {
  await server?.close();
  await app?.close();
});

const argmax = (row: number[]) => row.indexOf(Math.max(...row));

describe('k-fold cross-validation', () => {
  it('refuses folds it cannot train, naming the limit', async () => {
    for (const [folds, message] of [
      [1, /folds must be an integer from 2 to 20, got 1/],
      [21, /folds must be an integer from 2 to 20, got 21/],
    ] as const) {
      const answer = await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id } }`, {
        input: { datasetId, backbones: ['mobilenet_v3_small'], heads: ['feedforward'], folds, options: TINY },
      });
      expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(answer.errors?.[0]?.message).toMatch(message);
    }
    expect(await app.services.db.trainingRun.count()).toBe(0);
    expect(await app.services.db.crossValidation.count()).toBe(0);
  });

  it('covers every item exactly once out of fold, makes the fold ensemble, and fits on the out-of-fold predictions', async () => {
    const started = await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id fold { index crossValidation { id folds } } } }`, {
      input: { datasetId, backbones: ['mobilenet_v3_small'], heads: ['feedforward'], folds: 3, options: TINY },
    });
    expect(started.errors).toBeUndefined();
    const runs = started.data!.startTraining as { id: string; fold: { index: number; crossValidation: { id: string; folds: number } } }[];
    expect(runs.map((r) => r.fold.index)).toEqual([0, 1, 2]);
    const cvId = runs[0]!.fold.crossValidation.id;
    expect(new Set(runs.map((r) => r.fold.crossValidation.id))).toEqual(new Set([cvId]));

    const cv = await eventually(
      async () => {
        const answer = await gql(
          `query($id: ID!) { crossValidation(id: $id) { status folds runs { id status error } ensemble { id members { artifact { id run { id } } weight } }
            outOfFold { itemCount expectedItems meanTop1 meanAcsa tasks { task top1 acsa } } } }`,
          { id: cvId },
        );
        const value = answer.data!.crossValidation;
        return value.status === 'FINISHED' && value.ensemble ? value : undefined;
      },
      'the cross-validation and its fold ensemble',
      240_000,
    );
    for (const run of cv.runs) expect(run.status, run.error ?? '').toBe('SUCCEEDED');

    // Exactly once: the stored out-of-fold rows are the dataset's TRAIN and VALIDATION items, each one time.
    const { db } = app.services;
    const items = await db.item.findMany({ where: { datasetId: Number(datasetId), split: { in: ['TRAIN', 'VALIDATION'] } }, include: { labels: true } });
    const rows = await db.foldPrediction.findMany({ where: { crossValidationId: Number(cvId) } });
    expect(rows).toHaveLength(items.length);
    expect(new Set(rows.map((r) => r.itemId))).toEqual(new Set(items.map((i) => i.id)));
    expect(cv.outOfFold).toMatchObject({ itemCount: items.length, expectedItems: items.length });

    // Out of fold for real: each item's prediction comes from the fold run whose items file had it as
    // VALIDATION, and every other fold run trained on it.
    const splitsByFold = new Map<number, Map<number, string>>();
    for (const run of await db.trainingRun.findMany({ where: { crossValidationId: Number(cvId) } })) {
      const lines = (await readFile(path.join(run.runDir!, 'items.jsonl'), 'utf8')).trim().split('\n');
      splitsByFold.set(run.foldIndex!, new Map(lines.map((line) => JSON.parse(line) as { id: number; split: string }).map((i) => [i.id, i.split])));
    }
    for (const row of rows) {
      expect(splitsByFold.get(row.foldIndex)!.get(row.itemId)).toBe('VALIDATION');
      for (const [fold, splits] of splitsByFold) if (fold !== row.foldIndex) expect(splits.get(row.itemId)).toBe('TRAIN');
    }
    const foldSizes = [0, 1, 2].map((f) => rows.filter((r) => r.foldIndex === f).length);
    expect(Math.max(...foldSizes) - Math.min(...foldSizes)).toBeLessThanOrEqual(1);

    // The figures from the stored probabilities, by hand: top-1 = share of items whose arg-max is the label.
    const labelOf = new Map(items.map((i) => [i.id, i.labels]));
    for (const task of cv.outOfFold.tasks as { task: number; top1: number }[]) {
      const right = rows.filter(
        (r) => argmax((r.probabilities as number[][])[task.task]!) === labelOf.get(r.itemId)!.find((l) => l.task === task.task)!.classIndex,
      );
      expect(task.top1).toBeCloseTo(right.length / rows.length, 12);
    }

    // The fold ensemble: the three fold models, equal weights.
    const foldRunIds = cv.runs.map((r: { id: string }) => r.id).sort();
    expect(cv.ensemble.members.map((m: { artifact: { run: { id: string } } }) => m.artifact.run.id).sort()).toEqual(foldRunIds);
    expect(new Set(cv.ensemble.members.map((m: { weight: number }) => m.weight))).toEqual(new Set([1]));

    // Fitted on the out-of-fold predictions for mean top-1: every item fitted on, none held back, and
    // neither the selection nor the logit adjustment lowers top-1 on them.
    const fitted = await gql(
      `mutation($input: FitEnsembleInput!) { fitEnsemble(input: $input) { id members { artifact { id } weight temperatures }
        logitAdjustment { task plainTop1 adjustedTop1 }
        fit { outOfFold itemCount metric score bestMemberScore crossValidations { id } candidates { artifact { id } picks } } } }`,
      { input: { name: 'oof fit', artifactIds: [], crossValidationIds: [cvId], datasetId, metric: 'MEAN_TOP1', logitAdjustment: true } },
    );
    expect(fitted.errors).toBeUndefined();
    const ensemble = fitted.data!.fitEnsemble;
    expect(ensemble.fit).toMatchObject({ outOfFold: true, itemCount: items.length, metric: 'MEAN_TOP1', crossValidations: [{ id: cvId }] });
    expect(ensemble.fit.score).toBeGreaterThanOrEqual(ensemble.fit.bestMemberScore);
    // The out-of-fold top-1 of the one candidate is the figure the cross-validation reports.
    expect(ensemble.fit.bestMemberScore).toBeCloseTo(cv.outOfFold.meanTop1, 12);
    for (const task of ensemble.logitAdjustment) expect(task.adjustedTop1).toBeGreaterThanOrEqual(task.plainTop1);
    // The chosen cross-validation joins with all three fold models, its picks shared between them.
    expect(ensemble.members).toHaveLength(3);
    const weights = ensemble.members.map((m: { weight: number }) => m.weight);
    expect(Math.max(...weights)).toBeCloseTo(Math.min(...weights), 12);
    expect(weights.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(ensemble.fit.candidates[0].picks, 12);
  });
});
