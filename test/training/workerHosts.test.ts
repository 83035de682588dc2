// `fashion-how worker` as another host would run it: its own process and data folder, jobs from
// PostgreSQL's queue. A cancel made in another process reaches it through the run's record at its next
// heartbeat; a run is taken by one worker only. On SQLite the worker and serve --no-worker refuse to start.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { runCli, startCli } from '../fixtures/cli.js';
import { eventually, openTestApp, processAlive, seededTestConfig, TEST_DATABASE, testDatabaseUrl, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
const children: ChildProcess[] = [];
afterAll(() =>
  children.forEach((child) => {
    child.kill('SIGKILL');
  }),
);

async function cli(args: string[], dataDir: string, extraEnv: Record<string, string> = {}) {
  const { code, stdout, stderr } = await runCli(args, {
    ...process.env,
    FASHION_HOW_DATA_DIR: dataDir,
    DATABASE_URL: testDatabaseUrl(dataDir),
    LOG_LEVEL: 'silent',
    ...extraEnv,
  });
  return { code, out: code === 0 ? stdout : stdout + stderr };
}

describe.skipIf(TEST_DATABASE !== 'sqlite')('worker hosts need PostgreSQL', () => {
  it('refuses fashion-how worker and serve --no-worker on SQLite, saying what to set', async () => {
    const dataDir = path.join(scratch.dir, 'sqlite');
    const worker = await cli(['worker'], dataDir);
    expect(worker.code).not.toBe(0);
    expect(worker.out).toMatch(/fashion-how worker needs PostgreSQL: set DATABASE_URL=postgresql:/);
    const serve = await cli(['serve', '--port', '0', '--no-worker'], dataDir);
    expect(serve.code).not.toBe(0);
    expect(serve.out).toMatch(/--no-worker needs PostgreSQL/);
    const gpus = await cli(['worker', '--gpus', '0,0'], dataDir);
    expect(gpus.out).toMatch(/--gpus must be distinct device indices/);
  });
});

describe.skipIf(TEST_DATABASE !== 'postgresql')('a worker host on PostgreSQL', () => {
  it('takes a queued run, and stops it at its next heartbeat when another process cancels it', async () => {
    // The "server": queues and cancels, trains nothing (as serve --no-worker).
    const serverDir = path.join(scratch.dir, 'server');
    const server = await openApp(await seededTestConfig(serverDir));
    const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 40, seed: 4, minSide: 64, maxSide: 96 });
    const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, server.services.importContext);

    const workerDir = path.join(scratch.dir, 'worker');
    const env = {
      ...process.env,
      FASHION_HOW_DATA_DIR: workerDir,
      // Hosts share the artifact store: the photos (and models) are there, not in the server's folders.
      FASHION_HOW_ARTIFACT_STORE: path.join(serverDir, 'artifacts'),
      DATABASE_URL: testDatabaseUrl(serverDir),
      FASHION_HOW_HEARTBEAT_MS: '500',
      FASHION_HOW_HEARTBEAT_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'silent',
    };
    const { child: worker, waitFor } = startCli(['worker', '--concurrency', '1'], env, 'the worker');
    children.push(worker);
    const [, workerId] = await waitFor(/worker (\S+): taking training jobs/, 60_000);
    expect(workerId).toBe(`${(await import('node:os')).hostname()}:${worker.pid}`);

    try {
      const [run] = await server.services.training.startTraining({
        datasetId,
        backbones: ['mobilenet_v3_small'],
        heads: ['feedforward'],
        options: {
          imageSize: 32,
          epochs: 20,
          batchSize: 4,
          hiddenSize: 16,
          cutmix: 'offline',
          cutmixCopies: 32,
          dataLoaderWorkers: 0,
          threads: 1,
          pretrained: 'none',
        },
      });
      const training = await eventually(
        async () => {
          const r = await server.services.training.get(run!.id);
          return (r.progress as { phase?: string } | null)?.phase === 'TRAINING' && r.workerPid ? r : undefined;
        },
        'the worker to train the run',
        90_000,
      );
      expect(training.workerId).toBe(workerId);
      expect(training.runDir).toBe(path.join(workerDir, 'runs', String(run!.id)));

      // Cancel from this process: it only marks the record; the worker must notice and stop its Python worker.
      const cancelledAt = Date.now();
      const cancelled = await server.services.training.cancel(run!.id);
      expect(cancelled.status).toBe('CANCELLED');
      const final = await eventually(
        async () => {
          const r = await server.services.training.get(run!.id);
          return r.workerPid === null && r.heartbeatAt === null ? r : undefined;
        },
        'the worker to stop the run',
        30_000,
      );
      expect(Date.now() - cancelledAt).toBeLessThan(15_000);
      expect(final.status).toBe('CANCELLED');
      expect(final.error).toMatch(/cancelled/);
      expect(processAlive(training.workerPid!)).toBe(false);
      // The worker is free again and still alive.
      expect(worker.exitCode).toBeNull();
    } finally {
      await server.close();
    }
  });

  it('runs a job once even with two workers listening, and an app that is a worker too', async () => {
    const dir = path.join(scratch.dir, 'twice');
    const app = await openTestApp(dir); // a worker of the queue, like serve
    // Another host: its own folders, the same database and artifact store.
    const other = await openTestApp(path.join(scratch.dir, 'twice-other'), { databaseUrl: testDatabaseUrl(dir), artifactStore: app.config.artifactStore });
    try {
      const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth-twice'), count: 30, seed: 6, minSide: 64, maxSide: 96 });
      const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext);
      const runs = await app.services.training.startTraining({
        datasetId,
        backbones: ['mobilenet_v3_small'],
        heads: ['feedforward', 'residual'],
        options: { imageSize: 32, epochs: 1, batchSize: 4, hiddenSize: 16, maxStepsPerEpoch: 2, dataLoaderWorkers: 0, threads: 1, pretrained: 'none' },
      });
      await app.services.training.waitFor(runs.map((r) => r.id));
      for (const r of runs) {
        const finished = await app.services.training.get(r.id);
        expect(finished.status, finished.error ?? '').toBe('SUCCEEDED');
        expect(finished.attempts).toBe(1); // claimed once: never started by both
      }
      expect(await app.services.db.modelArtifact.count()).toBe(2);
    } finally {
      await other.close();
      await app.close();
    }
  });
});
