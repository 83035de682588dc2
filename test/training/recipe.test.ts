// The recipe's run-level choices end to end through a real worker: the artifact holds the best epoch's
// weights (its stored validation report is that epoch's figures), early stopping ends a run and says so,
// and a time budget measures the host, chooses the epochs and stops within its time, recording why.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { eventually, graphqlClient, openTestApp, tempDir } from '../helpers.js';

let scratch: Awaited<ReturnType<typeof tempDir>>;
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: string;

const SMALL = { imageSize: 32, batchSize: 16, hiddenSize: 16, cutmix: 'OFF', dataLoaderWorkers: 0, threads: 1, pretrained: 'none', maxStepsPerEpoch: 3 };
const FIELDS = `id status error startedAt finishedAt
  epochs { epoch meanTop1 meanAcsa seconds }
  budget { seconds elapsedBeforeTraining secondsPerStep epochSeconds reserveSeconds epochs reason replanned { afterEpoch measuredEpochSeconds epochs reason }
    imageSize sizes { size secondsPerStep epochs } sizeReason batchSize batchReason learningRate }
  selection { selectionMetric bestEpoch bestScore epochsRun stopped }
  validationReport { meanTop1 meanAcsa }`;

async function train(input: Record<string, unknown>) {
  const started = await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id } }`, {
    input: { datasetId, backbones: ['mobilenet_v3_small'], heads: ['feedforward'], ...input },
  });
  expect(started.errors).toBeUndefined();
  const id = started.data!.startTraining[0].id as string;
  return eventually(
    async () => {
      const run = (await gql(`query($id: ID!) { run(id: $id) { ${FIELDS} } }`, { id })).data!.run;
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.status) ? run : undefined;
    },
    `run ${id} to finish`,
    180_000,
  );
}

beforeAll(async () => {
  scratch = await tempDir();
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer({ ...app, config: { ...app.config, port: 0 } });
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('recipe test', 'trainer')).token);
  const synthetic = await writeSyntheticDataset({
    out: path.join(scratch.dir, 'synth'),
    count: 120,
    seed: 3,
    minSide: 48,
    maxSide: 72,
    difficulty: 'realistic',
  });
  datasetId = String((await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId);
});

afterAll(async () => {
  await server?.close();
  await app?.close();
  await scratch?.remove();
});

describe('the recipe', () => {
  it("keeps the best epoch's weights: its report is the best epoch's validation figures, not the last one's", async () => {
    // Online CutMix and flips too: every batch transform of the default recipe runs.
    const run = await train({ options: { ...SMALL, epochs: 4, learningRate: 0.01, selectionMetric: 'MEAN_TOP1', cutmix: 'ONLINE', horizontalFlip: true } });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const scores = run.epochs.map((e: { meanTop1: number }) => e.meanTop1);
    // The first of the highest scores (a tie keeps the earlier epoch).
    const best = scores.indexOf(Math.max(...scores)) + 1;
    expect(run.selection).toMatchObject({ selectionMetric: 'MEAN_TOP1', bestEpoch: best, epochsRun: 4, stopped: null });
    expect(run.selection.bestScore).toBeCloseTo(scores[best - 1], 9);
    // The stored report scores the exported model's own validation predictions.
    expect(run.validationReport.meanTop1).toBeCloseTo(scores[best - 1], 9);
  });

  it('stops early after the patience runs out, and says so', async () => {
    // A learning rate this small barely moves the weights, so the figure stops improving at once.
    const run = await train({ options: { ...SMALL, epochs: 12, learningRate: 1e-7, earlyStoppingPatience: 1 } });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    expect(run.selection.stopped).toBe('EARLY');
    expect(run.epochs.length).toBe(run.selection.epochsRun);
    expect(run.selection.epochsRun).toBeLessThan(12);
    expect(run.selection.epochsRun - run.selection.bestEpoch).toBe(1);
  });

  it('spends a time budget: measures this host, chooses the epochs that fit, and ends within its time', async () => {
    const seconds = 20;
    const run = await train({ options: { ...SMALL, maxStepsPerEpoch: null }, budget: { seconds } });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    expect(run.budget.seconds).toBe(seconds);
    expect(run.budget.secondsPerStep).toBeGreaterThan(0);
    expect(run.budget.epochs).toBeGreaterThanOrEqual(1);
    expect(run.budget.reason).toMatch(/epoch\(s\)/);
    // After every epoch the plan is made again from the median epoch so far; the run follows the last one.
    const times = run.epochs.map((e: { seconds: number }) => e.seconds).sort((a: number, b: number) => a - b);
    expect(run.budget.replanned.afterEpoch).toBe(run.epochs.length);
    expect(run.budget.replanned.measuredEpochSeconds).toBeCloseTo(times[Math.floor(times.length / 2)], 1);
    expect(run.budget.replanned.reason).toMatch(
      /^after epoch \d+: an epoch takes [\d.]+ s \(median so far; estimated [\d.]+ s\); -?\d+ s left: \d+ epoch\(s\) in all/,
    );
    expect(run.selection.epochsRun).toBeLessThanOrEqual(run.budget.replanned.epochs);
    // Not the seed's 3 epochs: what the budget allows on this host (at most 100 without an epochs option).
    const { elapsedBeforeTraining, reserveSeconds, epochSeconds } = run.budget;
    expect(reserveSeconds).toBe(Math.max(5, 0.03 * seconds));
    // The plan's arithmetic from its own figures: an epoch is taken once 85 % of it fits. The figures are
    // rounded to 0.01 s, so the boundary may move either way by what half a hundredth in each of them
    // makes of the quotient: (fits + 1) * 0.005 / epochSeconds epochs (a fast host: short epochs, more slack).
    const fits = (seconds - elapsedBeforeTraining - reserveSeconds) / epochSeconds + 0.15;
    const slack = ((fits + 1) * 0.005) / epochSeconds + 0.01;
    expect(run.budget.epochs).toBeGreaterThanOrEqual(Math.max(1, Math.min(100, Math.floor(fits - slack))));
    expect(run.budget.epochs).toBeLessThanOrEqual(Math.max(1, Math.min(100, Math.floor(fits + slack))));
    const wall = (new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime()) / 1000;
    // The worker's start to the record's end: the budget, plus one step's overrun and the registration.
    expect(wall).toBeLessThan(seconds + 20);
  });

  it('chooses the side by its own probe, trains and serves at it, and says why', async () => {
    // 20 s cannot hold 100 epochs (minEpochs 1000, capped at the 100 a budget allows) at any side: the
    // probe stops at the smallest, and the run trains at 24 px though 48 were allowed.
    const run = await train({ options: { ...SMALL, imageSize: 48 }, budget: { seconds: 20, imageSizes: [24, 32, 40], minEpochs: 1000 } });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const { sizes, imageSize } = run.budget;
    expect(imageSize).toBe(24);
    expect(sizes).toHaveLength(1);
    expect(sizes[0]).toMatchObject({ size: 24, epochs: expect.any(Number) });
    expect(sizes[0].epochs).toBeLessThan(100);
    expect(sizes[0].secondsPerStep).toBeGreaterThan(0);
    expect(run.budget.sizeReason).toBe(`24 px: the smallest size; even there fewer than 100 epoch(s) fit (${sizes[0].epochs})`);
    // On CPU the batch and the learning rate stay as asked.
    expect(run.budget).toMatchObject({ batchSize: SMALL.batchSize, learningRate: 1e-3 });
    expect(run.budget.batchReason).toMatch(/^batch 16 kept: on CPU/);
    // model.json declares the side trained at, and serving scores VALIDATION at it as the worker did.
    const { services } = app;
    const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: Number(run.id) } });
    expect((artifact.modelInfo as { input: { size: number } }).input.size).toBe(imageSize);
    const served = (await services.evaluation.evaluate({ artifactId: artifact.id, datasetId: Number(datasetId), split: 'VALIDATION' })).metrics as {
      meanTop1: number;
    };
    // Serving resizes with sharp, the worker with PIL: a few grey levels apart (preprocessParity), which
    // swaps a few nearly tied items of a tiny model trained this briefly, not a tenth of them.
    expect(Math.abs(served.meanTop1 - run.validationReport.meanTop1)).toBeLessThanOrEqual(0.1);
  });

  it('declares test-time flips in model.json, and serving scores VALIDATION with them as the worker did', async () => {
    const run = await train({ options: { ...SMALL, epochs: 1, testTimeFlip: true } });
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    const { services } = app;
    const artifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: Number(run.id) } });
    expect((artifact.modelInfo as { testTimeFlip?: boolean }).testTimeFlip).toBe(true);
    const served = (await services.evaluation.evaluate({ artifactId: artifact.id, datasetId: Number(datasetId), split: 'VALIDATION' })).metrics as {
      meanTop1: number;
      meanAcsa: number;
    };
    // The worker's figures (flip-averaged in PyTorch) and the server's (flip-averaged in ONNX Runtime) on
    // the same items: equal up to an item whose two nearly tied classes swap in float32.
    const items = await services.db.item.count({ where: { datasetId: Number(datasetId), split: 'VALIDATION' } });
    expect(Math.abs(served.meanTop1 - run.validationReport.meanTop1)).toBeLessThanOrEqual(1 / items + 1e-9);
    const plain = await train({ options: { ...SMALL, epochs: 1 } });
    const plainArtifact = await services.db.modelArtifact.findUniqueOrThrow({ where: { runId: Number(plain.id) } });
    expect((plainArtifact.modelInfo as { testTimeFlip?: boolean }).testTimeFlip).toBe(false);
  });

  it('refuses a budget under 10 s, naming the limit', async () => {
    const answer = await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id } }`, {
      input: { datasetId, backbones: ['mobilenet_v3_small'], heads: ['feedforward'], budget: { seconds: 5 } },
    });
    expect(answer.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(answer.errors?.[0]?.message).toBe('a time budget must be a whole number of seconds from 10 to 604800 (a week), got 5');
  });
});
