// Sweeps: the draws and ASHA's rule checked against hand computations, then real sweeps through real
// workers. On SQLite a RANDOM sweep runs every trial to the end through the in-process queue; on
// PostgreSQL an ASHA sweep of six trials runs through two `fashion-how worker` processes, and every
// stored rung decision is re-derived from the trials' own epoch records.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import { type App, openApp } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { FashionHowClient } from '../../src/sdk/index.js';
import { drawTrials, rungDecision, rungEpochs } from '../../src/training/sweep.js';
import { startCli } from '../fixtures/cli.js';
import { eventually, graphqlClient, seededTestConfig, TEST_DATABASE, testDatabaseUrl, useScratchDir } from '../helpers.js';

describe('drawing trials and judging rungs', () => {
  it('draws the same trials from the same seed, inside the space, log ranges uniform in log space', () => {
    const space = {
      learningRate: { min: 1e-4, max: 1e-2, log: true },
      labelSmoothing: { min: 0, max: 0.2 },
      imageSize: [32, 48, 64],
      head: ['feedforward', 'residual'],
    };
    const draws = drawTrials(space, 2000, 7, { backbone: 'resnet18', head: 'feedforward' });
    expect(drawTrials(space, 2000, 7, { backbone: 'resnet18', head: 'feedforward' })).toEqual(draws);
    expect(drawTrials(space, 5, 8, { backbone: 'resnet18', head: 'feedforward' })).not.toEqual(draws.slice(0, 5));
    for (const { backbone, head, options } of draws) {
      expect(backbone).toBe('resnet18');
      expect(space.head).toContain(head);
      expect(space.imageSize).toContain(options.imageSize);
      expect(options.learningRate!).toBeGreaterThanOrEqual(1e-4);
      expect(options.learningRate!).toBeLessThanOrEqual(1e-2);
      expect(options.labelSmoothing!).toBeGreaterThanOrEqual(0);
      expect(options.labelSmoothing!).toBeLessThanOrEqual(0.2);
      expect(options.cutmix).toBeUndefined();
    }
    // Log-uniform on [1e-4, 1e-2]: half below the geometric middle 1e-3; a linear draw would put 9 % there.
    // With 2000 draws the share's standard error is 0.011: 0.45-0.55 holds at more than 4 sigma.
    const belowMiddle = draws.filter((d) => d.options.learningRate! < 1e-3).length / draws.length;
    expect(belowMiddle).toBeGreaterThan(0.45);
    expect(belowMiddle).toBeLessThan(0.55);
    // Uniform on [0, 0.2]: mean 0.1 (standard error 0.0013).
    const meanSmoothing = draws.reduce((sum, d) => sum + d.options.labelSmoothing!, 0) / draws.length;
    expect(Math.abs(meanSmoothing - 0.1)).toBeLessThan(0.006);
  });

  it('places rungs at minEpochs x eta^k below the last epoch', () => {
    expect(rungEpochs(1, 3, 9)).toEqual([1, 3]);
    expect(rungEpochs(1, 2, 8)).toEqual([1, 2, 4]);
    expect(rungEpochs(2, 3, 3)).toEqual([2]);
    expect(rungEpochs(3, 3, 3)).toEqual([]);
  });

  it('keeps a trial when fewer than floor(n / eta) (at least one) of the competitors beat it', () => {
    // By hand: 0.6 against [0.9, 0.5] with eta 3 -> n = 3, kept 1 -> only the best goes on.
    expect(rungDecision(1, 0.6, [0.9, 0.5], 3)).toEqual({ epoch: 1, value: 0.6, competing: [0.9, 0.6, 0.5], kept: 1, promoted: false });
    expect(rungDecision(1, 0.9, [0.6, 0.5], 3).promoted).toBe(true);
    // The first trial at a rung always goes on; a tie with the last kept goes on.
    expect(rungDecision(2, 0.1, [], 3).promoted).toBe(true);
    expect(rungDecision(1, 0.5, [0.5, 0.4, 0.3], 2)).toMatchObject({ kept: 2, promoted: true });
    // A tie in all but the last bits is a tie: the mean of (0.3, 0.2, 0.1) against that of (0.1, 0.2, 0.3).
    const [low, high] = [(0.3 + 0.2 + 0.1) / 3, (0.1 + 0.2 + 0.3) / 3];
    expect(low).toBeLessThan(high);
    expect(rungDecision(1, low, [0.9, high, 0.1], 2).promoted).toBe(true);
    // Against a brute force over random figures: promoted iff fewer than `kept` others are strictly better.
    let seed = 11;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 500; i++) {
      const others = Array.from({ length: Math.floor(random() * 12) }, () => Math.round(random() * 20) / 20);
      const value = Math.round(random() * 20) / 20;
      const eta = 2 + Math.floor(random() * 3);
      const kept = Math.max(1, Math.floor((others.length + 1) / eta));
      const decision = rungDecision(3, value, others, eta);
      expect(decision.kept).toBe(kept);
      expect(decision.promoted).toBe(others.filter((o) => o > value + 1e-9).length < kept);
    }
  });
});

const TINY = { imageSize: 32, batchSize: 8, hiddenSize: 16, cutmix: 'OFF', dataLoaderWorkers: 0, threads: 1, pretrained: 'none', maxStepsPerEpoch: 10 };
const SWEEP_FIELDS = `id status strategy metric trialCount maxEpochs rungEpochs reductionFactor
  best { index score run { id } }
  trials { index parameters pruned prunedAtEpoch score rungs { epoch value competing kept promoted }
    run { id status error workerId config epochs { epoch meanTop1 } selection { stopped bestEpoch bestScore } artifact { id } } }`;

interface TrialView {
  index: number;
  parameters: { backbone: string; head: string; options: Record<string, number> };
  pruned: boolean;
  prunedAtEpoch: number | null;
  score: number | null;
  rungs: { epoch: number; value: number; competing: number[]; kept: number; promoted: boolean }[];
  run: {
    id: string;
    status: string;
    error: string | null;
    workerId: string | null;
    config: Record<string, unknown>;
    epochs: { epoch: number; meanTop1: number }[];
    selection: { stopped: string | null; bestEpoch: number; bestScore: number } | null;
    artifact: { id: string } | null;
  };
}

/** The best mean top-1 of a run up to an epoch, from its epochs as GraphQL lists them. */
const bestUpTo = (trial: TrialView, epoch: number) => Math.max(...trial.run.epochs.filter((e) => e.epoch <= epoch).map((e) => e.meanTop1));

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: string;
let token: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // On PostgreSQL this process only queues (as serve --no-worker): the two worker processes train.
  app = await openApp(await seededTestConfig(path.join(scratch.dir, 'server')));
  server = await startServer({ ...app, config: { ...app.config, port: 0 } });
  token = (await app.services.tokens.create('sweep test', 'trainer')).token;
  gql = graphqlClient(server.graphqlUrl, token);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 80, seed: 5, minSide: 48, maxSide: 72 });
  datasetId = String((await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.close();
  await app?.close();
});

async function startSweep(input: Record<string, unknown>) {
  return gql(`mutation($input: StartSweepInput!) { startSweep(input: $input) { ${SWEEP_FIELDS} } }`, {
    input: { datasetId, backbone: 'mobilenet_v3_small', head: 'feedforward', ...input },
  });
}

async function finished(id: string, timeoutMs: number) {
  return eventually(
    async () => {
      const sweep = (await gql(`query($id: ID!) { sweep(id: $id) { ${SWEEP_FIELDS} } }`, { id })).data!.sweep;
      return sweep.status === 'FINISHED' ? sweep : undefined;
    },
    `sweep ${id} to finish`,
    timeoutMs,
    500,
  );
}

describe('a sweep through GraphQL', () => {
  it('refuses what cannot be swept, naming the field and its limit', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ trials: 0, space: {} }, /trials must be an integer from 1 to 200, got 0/],
      [{ trials: 2, space: { weightDecay: { min: 0, max: 1e-2, log: true } } }, /space.weightDecay is drawn in log space, so min must be above 0/],
      [{ trials: 2, space: { learningRate: { min: 0, max: 1e-2 } } }, /space.learningRate must have 1e-8 <= min <= max <= 1, got min 0/],
      [{ trials: 2, space: { labelSmoothing: { min: 0.1, max: 0.9 } } }, /space.labelSmoothing must have 0 <= min <= max <= 0.5/],
      [{ trials: 2, space: { heads: ['nope'] } }, /space.head: unsupported head "nope"/],
      [{ trials: 2, space: {}, options: { epochs: 1 } }, /ASHA needs options.epochs \(1\) above minEpochs \(1\)/],
      [{ trials: 2, space: {}, reductionFactor: 1, options: { epochs: 3 } }, /reductionFactor must be an integer from 2 to 10, got 1/],
    ];
    for (const [input, message] of cases) {
      const answer = await startSweep(input);
      expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(answer.errors?.[0]?.message).toMatch(message);
    }
    expect((await gql(`{ sweeps { id } }`)).data!.sweeps).toEqual([]);
    expect((await gql(`{ runs { id } }`)).data!.runs).toEqual([]);
  });

  it.skipIf(TEST_DATABASE !== 'sqlite')('runs a RANDOM sweep to the end and names its best trial (through the SDK)', async () => {
    const client = new FashionHowClient({ endpoint: server.graphqlUrl, token });
    const started = await client.startSweep({
      datasetId,
      backbone: 'mobilenet_v3_small',
      head: 'feedforward',
      trials: 3,
      strategy: 'RANDOM',
      seed: 4,
      space: { learningRate: { min: 1e-4, max: 3e-3, log: true }, heads: ['feedforward', 'residual'] },
      options: { ...TINY, cutmix: 'OFF', epochs: 2 },
    });
    expect(started).toMatchObject({ status: 'RUNNING', strategy: 'RANDOM', metric: 'MEAN_TOP1', trialCount: 3, rungEpochs: [] });
    const waited = await client.waitForSweep(started.id, { timeoutMs: 240_000, pollMs: 500 });
    expect(waited.status).toBe('FINISHED');
    const sweep = await finished(started.id, 1000);
    const trials = sweep.trials as TrialView[];
    expect(trials.map((t) => t.index)).toEqual([0, 1, 2]);
    for (const trial of trials) {
      expect(trial.run.status, trial.run.error ?? '').toBe('SUCCEEDED');
      // The run trains what was drawn: its config holds the trial's learning rate, its combo the head.
      expect(trial.run.config.learningRate).toBe(trial.parameters.options.learningRate);
      expect(trial.run.epochs).toHaveLength(2);
      expect(trial.pruned).toBe(false);
      expect(trial.rungs).toEqual([]);
      expect(trial.score).toBeCloseTo(trial.run.selection!.bestScore, 10);
    }
    const bestScore = Math.max(...trials.map((t) => t.score!));
    expect(sweep.best.index).toBe(trials.find((t) => t.score === bestScore)!.index);
  });
});

describe.skipIf(TEST_DATABASE !== 'postgresql')('an ASHA sweep on PostgreSQL through two worker processes', () => {
  it('stops the losing trials at their rungs, each decision re-derivable from the epoch records', async () => {
    const workerIds: string[] = [];
    for (const name of ['worker-1', 'worker-2']) {
      const env = {
        ...process.env,
        FASHION_HOW_DATA_DIR: path.join(scratch.dir, name),
        // Hosts share the artifact store (the photos are there), as every installation of several hosts does.
        FASHION_HOW_ARTIFACT_STORE: app.config.artifactStore.kind === 'directory' ? app.config.artifactStore.dir : '',
        DATABASE_URL: testDatabaseUrl(path.join(scratch.dir, 'server')),
        LOG_LEVEL: 'silent',
      };
      const worker = startCli(['worker', '--concurrency', '1'], env, name);
      children.push(worker.child);
      workerIds.push((await worker.waitFor(/worker (\S+): taking training jobs/, 60_000))[1]!);
    }
    // A seed whose first four trials learn (learning rate >= 1e-3) and whose last two barely move
    // (<= 1e-5): the last ones meet rung 1 after the first ones are on record there (two workers take
    // the queue in order), with at least four better figures against them, and lose.
    const space = { learningRate: { min: 1e-6, max: 1e-2, log: true } };
    const base = { backbone: 'mobilenet_v3_small', head: 'feedforward' };
    const seed = Array.from({ length: 100_000 }, (_, s) => s).find((s) => {
      const lr = drawTrials(space, 6, s, base).map((t) => t.options.learningRate!);
      return lr.slice(0, 4).every((v) => v >= 1e-3) && lr.slice(4).every((v) => v <= 1e-5);
    })!;
    expect(seed).toBeDefined();
    const started = await startSweep({ trials: 6, strategy: 'ASHA', seed, minEpochs: 1, reductionFactor: 2, space, options: { ...TINY, epochs: 3 } });
    expect(started.errors).toBeUndefined();
    expect(started.data!.startSweep).toMatchObject({ rungEpochs: [1, 2], reductionFactor: 2, maxEpochs: 3 });
    const sweep = await finished(started.data!.startSweep.id, 480_000);
    const trials = sweep.trials as TrialView[];
    expect(trials).toHaveLength(6);

    // Both worker processes took trials, and every trial left an artifact (a pruned one its best epoch).
    expect(new Set(trials.map((t) => t.run.workerId))).toEqual(new Set(workerIds));
    for (const trial of trials) {
      expect(trial.run.status, trial.run.error ?? '').toBe('SUCCEEDED');
      expect(trial.run.artifact).not.toBeNull();
      if (trial.pruned) {
        expect(trial.run.selection!.stopped).toBe('PRUNED');
        expect(trial.run.epochs).toHaveLength(trial.prunedAtEpoch!);
        expect(trial.rungs.at(-1)).toMatchObject({ epoch: trial.prunedAtEpoch, promoted: false });
      } else {
        expect(trial.run.selection!.stopped).toBeNull();
        expect(trial.run.epochs).toHaveLength(3);
        expect(trial.rungs.map((r) => r.epoch)).toEqual([1, 2]);
      }
    }
    expect(trials[4]!.pruned && trials[5]!.pruned).toBe(true);

    // Every decision from the figures: the trial's own best up to the rung, competitors that are other
    // trials' figures at that rung, and ASHA's rule by counting.
    for (const trial of trials) {
      for (const rung of trial.rungs) {
        expect(rung.value).toBeCloseTo(bestUpTo(trial, rung.epoch), 12);
        const others = [...rung.competing];
        others.splice(others.indexOf(rung.value), 1);
        const reached = trials.filter((t) => t !== trial && t.run.epochs.length >= rung.epoch).map((t) => bestUpTo(t, rung.epoch));
        for (const value of others) expect(reached.some((r) => Math.abs(r - value) < 1e-12)).toBe(true);
        expect(rung.kept).toBe(Math.max(1, Math.floor(rung.competing.length / 2)));
        expect(rung.promoted).toBe(others.filter((o) => o > rung.value + 1e-9).length < rung.kept);
      }
    }
    const bestScore = Math.max(...trials.map((t) => t.score!));
    expect(sweep.best.score).toBe(bestScore);
    expect(trials[sweep.best.index]!.pruned).toBe(false);
  });
});
