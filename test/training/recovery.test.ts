import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { startCli } from '../fixtures/cli.js';
import { eventually, graphqlClient, processAlive, seededTestConfig, testDatabaseUrl, useScratchDir } from '../helpers.js';

// A server process that dies mid-run (kill -9) must not leave its run RUNNING forever: the next start
// marks it INTERRUPTED, and resumeRun continues from the last epoch checkpoint.
const scratch = useScratchDir();
let server: ChildProcess | undefined;

async function startServerProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const serve = startCli(
    ['serve', '--port', '0'],
    { ...process.env, FASHION_HOW_DATA_DIR: dataDir, DATABASE_URL: testDatabaseUrl(dataDir), LOG_LEVEL: 'info' },
    'the server',
  );
  const [, url] = await serve.waitFor(/GraphQL: (http:\/\/\S+)/, 30_000);
  return { child: serve.child, url: url! };
}

afterAll(() => {
  server?.kill('SIGKILL');
});

describe('restart recovery', () => {
  it('marks the run of a killed server INTERRUPTED, and resumeRun finishes it from its checkpoint', async () => {
    const dataDir = path.join(scratch.dir, 'data');
    const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 60, seed: 8, minSide: 64, maxSide: 96 });
    const setup = await openApp(await seededTestConfig(dataDir));
    const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, setup.services.importContext);
    const { token } = await setup.services.tokens.create('recovery test', 'trainer');
    await setup.close();

    const first = await startServerProcess(dataDir);
    server = first.child;
    const gql = graphqlClient(first.url, token);
    // Epoch 1 is quick; epoch 2 is long (many steps), so the kill lands after the first checkpoint.
    const started = await gql(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id } }`, {
      input: {
        datasetId: String(datasetId),
        backbones: ['mobilenet_v3_small'],
        heads: ['residual'],
        options: {
          imageSize: 32,
          epochs: 2,
          batchSize: 4,
          hiddenSize: 16,
          cutmix: 'OFFLINE',
          cutmixCopies: 15,
          dataLoaderWorkers: 0,
          threads: 1,
          pretrained: 'none',
        },
      },
    });
    expect(started.errors).toBeUndefined();
    const id = started.data!.startTraining[0].id as string;
    await eventually(
      async () => {
        const { data } = await gql(`query($id: ID!) { run(id: $id) { status error epochs { epoch } progress { epoch } } }`, { id });
        if (data?.run.status !== 'RUNNING' && data?.run.status !== 'QUEUED') throw new Error(`run ended ${data?.run.status}: ${data?.run.error}`);
        return data.run.epochs.length >= 1 && data.run.progress?.epoch === 2 ? true : undefined;
      },
      'the first epoch checkpoint',
      120_000,
    );

    const app = await openApp(await seededTestConfig(dataDir));
    await app.services.training.startWorker();
    const { workerPid } = await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: Number(id) } });
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    server = undefined;
    // The orphaned worker notices its parent is gone and stops by itself.
    await eventually(async () => (processAlive(workerPid!) ? undefined : true), 'the orphaned worker to exit', 60_000);

    try {
      expect(await app.services.training.interruptOrphans()).toEqual([Number(id)]);
      const interrupted = await app.services.training.get(Number(id));
      expect(interrupted.status).toBe('INTERRUPTED');
      expect(interrupted.error).toMatch(/resume it with resumeRun/);

      await app.services.training.resume(Number(id));
      await app.services.training.waitFor([Number(id)]);
      const resumed = await app.services.training.get(Number(id));
      expect(resumed.status, resumed.error ?? '').toBe('SUCCEEDED');
      expect(resumed.attempts).toBe(2);
      expect((resumed.progress as { resumedFromEpoch: number }).resumedFromEpoch).toBe(1);
      // The resumed attempt found every image in the pixel cache the first attempt built.
      expect((resumed.progress as { imageCache: object }).imageCache).toMatchObject({ items: 60, built: 0, reused: 60 });
      expect((resumed.epochs as { epoch: number }[]).map((e) => e.epoch)).toEqual([1, 2]);
      expect(await app.services.db.modelArtifact.count({ where: { runId: Number(id) } })).toBe(1);
    } finally {
      await app.close();
    }
  }, 240_000); // two attempts of a run and a server start, on a shared two-core machine
});
