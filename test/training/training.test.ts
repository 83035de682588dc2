import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { openSession } from '../../src/inference/onnx.js';
import { createLogger } from '../../src/log.js';
import { TrainingService } from '../../src/training/service.js';
import { eventually, graphqlClient, openTestApp, processAlive, tempDir } from '../helpers.js';

let scratch: Awaited<ReturnType<typeof tempDir>>;
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let datasetId: string;

/** A few steps on 32 px images: enough to exercise every part of a run in seconds. */
const TINY = {
  imageSize: 32,
  epochs: 2,
  batchSize: 16,
  maxStepsPerEpoch: 2,
  hiddenSize: 16,
  cutmix: 'OFFLINE',
  cutmixCopies: 1,
  dataLoaderWorkers: 0,
  threads: 1,
  pretrained: 'none',
};
/** A run that would take minutes, for cancelling, killing and timing out. */
const LONG = { ...TINY, imageSize: 64, epochs: 50, maxStepsPerEpoch: null };

const RUN_FIELDS = `id status backbone head device pretrained parameterCount error stderrTail attempts startedAt finishedAt
  progress { phase epoch step totalSteps loss imagesPerSecond lr resumedFromEpoch }
  imageCache { spec items built reused lostRows bytes }
  epochs { epoch trainLoss seconds meanAcsa validation { task top1 acsa } }
  artifact { id sha256 sizeBytes parameterCount exportMaxAbsDiff inputSize tasks { name classes } }
  validationReport { itemCount meanTop1 meanAcsa tasks { task top1 acsa } confusionMatrices { task taskName classes rows } }`;

async function start(options: Record<string, unknown>, backbones = ['mobilenet_v3_small'], heads = ['feedforward']) {
  const response = await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { ${RUN_FIELDS} } }`, {
    input: { datasetId, backbones, heads, options },
  });
  expect(response.errors).toBeUndefined();
  return response.data!.startTraining as Record<string, any>[];
}

async function getRun(id: string) {
  const response = await gql(`query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id });
  return response.data!.run as Record<string, any>;
}

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];
const finished = (id: string) =>
  eventually(
    async () => {
      const run = await getRun(id);
      return FINAL.includes(run.status) ? run : undefined;
    },
    `run ${id} to finish`,
    180_000,
  );
const running = (id: string) =>
  eventually(async () => {
    const run = await getRun(id);
    return run.status === 'RUNNING' && run.progress?.step >= 1 ? run : undefined;
  }, `run ${id} to make progress`);

beforeAll(async () => {
  scratch = await tempDir();
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('training test', 'trainer')).token);
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 80, seed: 4, minSide: 64, maxSide: 96 });
  const outcome = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext);
  datasetId = String(outcome.datasetId);
});
afterAll(async () => {
  await server.close();
  await app.close();
  await scratch.remove();
});

describe('startTraining', () => {
  it('trains two combos one after the other and registers artifacts that reproduce the worker', async () => {
    const statuses = new Map<number, string[]>();
    const progressSeen: unknown[] = [];
    const record = async (id: number) => {
      const { status, progress } = await app.services.training.get(id);
      progressSeen.push(progress);
      const seen = statuses.get(id) ?? [];
      if (seen.at(-1) !== status) seen.push(status);
      statuses.set(id, seen);
    };
    // Each event's read of the run is awaited before the statuses are checked: finished() can see the
    // last status before the listener's own read of it has come back (seen on PostgreSQL).
    const recording: Promise<void>[] = [];
    const listener = (id: number) => void recording.push(record(id));
    app.services.training.events.on('run', listener);

    const runs = await start({ ...TINY, dataLoaderWorkers: 1 }, ['mobilenet_v3_small'], ['feedforward', 'residual']);
    expect(runs.map((r) => [r.status, r.head])).toEqual([
      ['QUEUED', 'feedforward'],
      ['QUEUED', 'residual'],
    ]);
    const [first, second] = [await finished(runs[0]!.id), await finished(runs[1]!.id)];
    app.services.training.events.off('run', listener);
    await Promise.all(recording);

    for (const run of [first, second]) {
      expect(run.status, run.error ?? '').toBe('SUCCEEDED');
      // Creation is announced too; the listener reads QUEUED unless the run already started by then.
      expect(statuses.get(Number(run.id))!.filter((s) => s !== 'QUEUED')).toEqual(['RUNNING', 'SUCCEEDED']);
      expect(statuses.get(Number(run.id))!.indexOf('QUEUED')).toBeLessThanOrEqual(0);
      expect(run).toMatchObject({ device: 'cpu', pretrained: false, progress: { epoch: 2, step: 4, totalSteps: 4 } });
      expect(run.parameterCount).toBeGreaterThan(100_000);
      expect(run.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
      for (const epoch of run.epochs) {
        expect(epoch.validation.map((v: { task: string }) => v.task)).toEqual(['Daily', 'Gender', 'Embellishment']);
        for (const v of epoch.validation) {
          for (const value of [v.top1, v.acsa]) {
            expect(value).toBeGreaterThanOrEqual(0);
            expect(value).toBeLessThanOrEqual(1);
          }
        }
      }
    }
    // Every stored progress is one GraphQL can answer (the second run reports its cache before it starts).
    expect(progressSeen.length).toBeGreaterThan(6);
    for (const progress of progressSeen)
      if (progress !== null)
        expect(progress).toMatchObject({ phase: expect.any(String), epoch: expect.any(Number), step: expect.any(Number), totalSteps: expect.any(Number) });
    // The first run decoded every item into the pixel cache; the second, same size, decoded none.
    const cacheFile = { spec: 'letterbox-v1-32px-pad255', items: 80, lostRows: 0, bytes: 80 * 32 * 32 * 3 };
    expect(first.imageCache).toEqual({ ...cacheFile, built: 80, reused: 0 });
    expect(second.imageCache).toEqual({ ...cacheFile, built: 0, reused: 80 });
    expect(first.progress.phase).toBe('TRAINING');
    // One job at a time on a machine without a GPU: the second started after the first ended.
    expect(new Date(second.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(first.finishedAt).getTime());

    const artifactRow = await app.services.db.modelArtifact.findFirstOrThrow({ where: { runId: Number(first.id) } });
    const bytes = await readFile(artifactRow.onnxPath);
    expect(first.artifact.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(first.artifact.sizeBytes).toBe((await stat(artifactRow.onnxPath)).size);
    expect(first.artifact).toMatchObject({ inputSize: 32, tasks: [{ name: 'Daily' }, { name: 'Gender' }, { name: 'Embellishment' }] });
    expect(first.artifact.exportMaxAbsDiff).toBeLessThan(1e-4);
    // The checked graph went into the artifact store, where serving hosts fetch it by sha256.
    expect(app.services.artifactStore.locationOf(artifactRow.sha256, 'onnx')).toBe(path.join(app.config.dataDir, 'artifacts', 'onnx', artifactRow.sha256));
    expect(Buffer.compare(await readFile(app.services.artifactStore.locationOf(artifactRow.sha256, 'onnx')), bytes)).toBe(0);

    // onnxruntime-node on the worker's own input tensors gives the worker's validation predictions.
    const runDir = path.dirname(artifactRow.onnxPath);
    const raw = await readFile(path.join(runDir, 'check', 'inputs.f32'));
    const inputs = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const count = inputs.length / (3 * 32 * 32);
    const predictions = JSON.parse(await readFile(path.join(runDir, 'validation-predictions.json'), 'utf8')) as {
      itemIds: number[];
      probabilities: number[][][];
    };
    const session = await openSession(artifactRow.onnxPath);
    const outputs = await session.run(inputs, count, 32);
    await session.release();
    let worst = 0;
    ['probs_0', 'probs_1', 'probs_2'].forEach((name, task) => {
      const classes = predictions.probabilities[task]![0]!.length;
      for (let i = 0; i < count; i++) {
        let sum = 0;
        for (let k = 0; k < classes; k++) {
          worst = Math.max(worst, Math.abs(outputs[name]![i * classes + k]! - predictions.probabilities[task]![i]![k]!));
          sum += outputs[name]![i * classes + k]!;
        }
        expect(sum).toBeCloseTo(1, 5);
      }
    });
    expect(count).toBe(8);
    expect(worst).toBeLessThan(1e-4);

    // The validation report: one confusion matrix per task, each counting every validation item once.
    const report = first.validationReport;
    expect(report.itemCount).toBe(20);
    expect(report.confusionMatrices.map((m: { classes: string[] }) => m.classes.length)).toEqual([7, 6, 3]);
    for (const matrix of report.confusionMatrices) {
      const rows = matrix.rows as number[][];
      expect(rows.flat().reduce((a, b) => a + b, 0)).toBe(20);
      const diagonal = rows.reduce((sum, row, k) => sum + row[k]!, 0);
      expect(report.tasks[matrix.task].top1).toBeCloseTo(diagonal / 20, 12);
    }
  });

  it('cancels a run mid-way: the worker ends and the run is CANCELLED', async () => {
    const [run] = await start(LONG);
    const live = await running(run!.id);
    const workerPid = (await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: Number(live.id) } })).workerPid!;
    expect(processAlive(workerPid)).toBe(true);
    const before = await gql(`query($id: ID!) { run(id: $id) { cancellable resumable } }`, { id: run!.id });
    expect(before.data?.run).toEqual({ cancellable: true, resumable: false });
    const cancelled = await gql(`mutation($id: ID!) { cancelRun(id: $id) { status error cancellable resumable } }`, { id: run!.id });
    expect(cancelled.data?.cancelRun.status).toBe('CANCELLED');
    expect([cancelled.data?.cancelRun.cancellable, cancelled.data?.cancelRun.resumable]).toEqual([false, true]);
    expect(cancelled.data?.cancelRun.error).toMatch(/^cancelled/);
    await eventually(async () => (processAlive(workerPid) ? undefined : true), 'the worker to exit', 15_000);
    const again = await gql(`mutation($id: ID!) { cancelRun(id: $id) { status } }`, { id: run!.id });
    expect(again.errors?.[0]).toMatchObject({
      extensions: { code: 'CONFLICT' },
      message: `run ${run!.id} is CANCELLED; only QUEUED or RUNNING runs can be cancelled`,
    });
  });

  it('marks a run FAILED with the reason when the worker fails on its config', async () => {
    const [run] = await start({ ...TINY, pretrained: '/nonexistent/weights.pth' });
    const failed = await finished(run!.id);
    expect(failed.status).toBe('FAILED');
    // A setting the user can fix: the message alone (exit code 2), no Python traceback.
    // Nothing outside the weights folder is read, and the answer does not say whether it exists.
    expect(failed.error).toBe(
      "pretrained weights 'weights.pth' are not a file of the weights folder (FASHION_HOW_WEIGHTS_DIR); put the file there and give its name (the worker exited with code 2)",
    );
    expect(failed.stderrTail ?? '').not.toMatch(/Traceback/);
  });

  it('marks a run FAILED when its worker is killed', async () => {
    const [run] = await start(LONG);
    await running(run!.id);
    const { workerPid } = await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: Number(run!.id) } });
    process.kill(workerPid!, 'SIGKILL');
    const failed = await finished(run!.id);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'the worker was killed by SIGKILL' });
  });

  it('stops a run at its time limit', async () => {
    const [run] = await start({ ...LONG, timeLimitSeconds: 3 });
    const failed = await finished(run!.id);
    expect(failed).toMatchObject({ status: 'FAILED', error: 'the run exceeded its time limit of 3 s' });
  });

  it('refuses bad requests before creating any run', async () => {
    const before = await app.services.db.trainingRun.count();
    const ask = (input: Record<string, unknown>) => gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id } }`, { input });
    const badBackbone = await ask({ datasetId, backbones: ['resnet99'], heads: ['feedforward'] });
    expect(badBackbone.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badBackbone.errors?.[0]?.message).toMatch(
      /^Unsupported backbone "resnet99". Choose one of: resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, densenet161, mobilenet_v3_small/,
    );
    const badEpochs = await ask({ datasetId, backbones: ['resnet18'], heads: ['feedforward'], options: { epochs: 0 } });
    expect(badEpochs.errors?.[0]?.message).toBe('epochs must be an integer from 1 to 1000, got 0');
    const noDataset = await ask({ datasetId: '999', backbones: ['resnet18'], heads: ['feedforward'] });
    expect(noDataset.errors?.[0]).toMatchObject({ message: 'dataset 999 does not exist', extensions: { code: 'NOT_FOUND' } });
    const noHeads = await ask({ datasetId, backbones: ['resnet18'] });
    expect(noHeads.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await app.services.db.trainingRun.count()).toBe(before);
  });

  it('says what to install when no Python can import torch', async () => {
    const training = new TrainingService(
      app.services.db,
      {
        dataDir: scratch.dir,
        artifactStore: app.services.artifactStore,
        pixelCacheDir: scratch.dir,
        python: '/nonexistent/python3',
        heartbeatMs: app.config.heartbeatMs,
        heartbeatTimeoutMs: app.config.heartbeatTimeoutMs,
      },
      createLogger({ logLevel: 'silent' }),
    );
    const error = await training.startTraining({ datasetId: Number(datasetId), backbones: ['resnet18'], heads: ['feedforward'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((error as Error).message).toContain('/nonexistent/python3: not found');
    expect((error as Error).message).toContain('apt-get install python3-torch python3-torchvision');
  });

  it('lists runs with filters', async () => {
    const all = await gql('{ runs { id status } }');
    const failed = await gql('{ runs(filter: { status: [FAILED] }) { id status } }');
    expect(all.data?.runs.length).toBeGreaterThanOrEqual(5);
    expect(failed.data?.runs.length).toBe(3);
    expect(failed.data?.runs.every((r: { status: string }) => r.status === 'FAILED')).toBe(true);
    expect(existsSync(path.join(scratch.dir, 'data', 'runs'))).toBe(true);
  });
});
