// Beyond one machine, on this machine (CPU only): PostgreSQL, an S3-compatible server, two serving
// replicas and two worker processes with data folders of their own, as if each ran on its own host.
// The dataset is uploaded from a client's folder, which is deleted before training. Two combos start over GraphQL on replica A; each worker takes one; one worker is killed with kill -9
// after its first checkpoint; its run becomes INTERRUPTED by the missing heartbeat and is resumed and
// finished by the other worker from the checkpoint in the object store; an ensemble built on replica B
// answers identically through both replicas; nothing is lost.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../src/app.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { FashionHowClient } from '../src/sdk/index.js';
import { startCli } from './fixtures/cli.js';
import { TEST_DATABASE_PREFIX } from './fixtures/databases.js';
import { type S3TestServer, startS3Server } from './fixtures/s3.js';
import { eventually, graphqlClient, processAlive, testConfig, useScratchDir } from './helpers.js';

const server = process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER;
const scratch = useScratchDir();
const children: ChildProcess[] = [];
let s3: S3TestServer | undefined;
let databaseUrl = '';

/** The settings every process of the cluster shares: the database, the store, quick heartbeats. */
const clusterEnv = () => ({
  DATABASE_URL: databaseUrl,
  ...s3!.env('cluster'),
  FASHION_HOW_HEARTBEAT_MS: '300',
  FASHION_HOW_HEARTBEAT_TIMEOUT_MS: '3000',
  LOG_LEVEL: 'info',
});

async function start(name: string, args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const cli = startCli(args, { ...process.env, ...clusterEnv(), FASHION_HOW_DATA_DIR: path.join(scratch.dir, name) }, name);
  children.push(cli.child);
  return { child: cli.child, match: await cli.waitFor(ready, 60_000), output: cli.output };
}

beforeAll(async () => {
  if (!server) return;
  s3 = await startS3Server();
  const url = new URL(server);
  url.pathname = `/${TEST_DATABASE_PREFIX}${process.env.FASHION_HOW_TEST_RUN}_cluster`;
  databaseUrl = url.toString();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await s3?.stop();
});

const TINY = { imageSize: 32, batchSize: 4, hiddenSize: 16, cutmix: 'OFFLINE', dataLoaderWorkers: 0, threads: 1, pretrained: 'none' };

describe.skipIf(!server)('a cluster on one machine: PostgreSQL, S3, two replicas, two workers', () => {
  it('trains two combos on two workers, survives a worker killed mid-run, and serves one ensemble identically from two replicas', async () => {
    // The operator's first step: a token, through the database both replicas use.
    const setup = await openApp({ ...testConfig(path.join(scratch.dir, 'setup')), databaseUrl });
    const { token } = await setup.services.tokens.create('cluster test', 'admin');
    await setup.close();

    const replicaA = await start('replica-a', ['serve', '--port', '0', '--no-worker'], /GraphQL: (http:\/\/\S+)/);
    const replicaB = await start('replica-b', ['serve', '--port', '0', '--no-worker'], /GraphQL: (http:\/\/\S+)/);
    // A user's dataset folder, uploaded from their machine to replica A and then gone: no server and no
    // worker ever sees the folder; the photos reach the workers through the object store.
    const folder = path.join(scratch.dir, 'laptop', 'synth');
    const synthetic = await writeSyntheticDataset({ out: folder, count: 60, seed: 21, minSide: 64, maxSide: 96 });
    const uploaded = await new FashionHowClient({ endpoint: replicaA.match[1]!, token }).uploadDataset(folder, { name: 'from a laptop' });
    expect(uploaded).toMatchObject({ created: true, itemCount: synthetic.rows.length });
    await rm(path.join(scratch.dir, 'laptop'), { recursive: true });
    const datasetId = Number(uploaded.dataset.id);
    const workers = [
      await start('worker-1', ['worker', '--concurrency', '1'], /worker (\S+): taking training jobs/),
      await start('worker-2', ['worker', '--concurrency', '1'], /worker (\S+): taking training jobs/),
    ];
    const a = graphqlClient(replicaA.match[1]!, token);
    const b = graphqlClient(replicaB.match[1]!, token);

    // Epoch 1 is short and epoch 2 long (many CutMix copies), so a kill after the first checkpoint
    // lands while the run is still going.
    const started = await a(`mutation($input: StartTrainingInput!) { startTraining(input: $input) { id status } }`, {
      input: {
        datasetId: String(datasetId),
        backbones: ['mobilenet_v3_small'],
        heads: ['feedforward', 'residual'],
        options: { ...TINY, epochs: 2, cutmixCopies: 15 },
      },
    });
    expect(started.errors).toBeUndefined();
    const ids: string[] = started.data!.startTraining.map((r: { id: string }) => r.id);
    expect(ids).toHaveLength(2);
    const runQuery = `query($id: ID!) { run(id: $id) { status error workerId heartbeatAt attempts epochs { epoch } progress { epoch resumedFromEpoch } artifact { id sha256 } } }`;
    const run = async (id: string) => (await b(runQuery, { id })).data!.run;

    // Each worker takes one run (one job at a time each).
    const holders = await eventually(
      async () => {
        const runs = await Promise.all(ids.map(run));
        return runs.every((r) => r.status === 'RUNNING' && r.workerId) ? runs.map((r) => r.workerId as string) : undefined;
      },
      'both runs to be taken',
      60_000,
    );
    const workerIds = workers.map((w) => w.match[1]!);
    expect(new Set(holders).size).toBe(2);
    expect([...holders].sort()).toEqual([...workerIds].sort());

    // Kill -9 the worker holding the first run once that run's first checkpoint is in the store.
    const [victimRun, survivorRun] = ids as [string, string];
    await eventually(
      async () => {
        const r = await run(victimRun);
        if (r.status !== 'RUNNING') throw new Error(`run ${victimRun} ended ${r.status} before the kill: ${r.error}`);
        return r.epochs.length >= 1 && r.progress?.epoch === 2 ? true : undefined;
      },
      'the first epoch checkpoint',
      120_000,
    );
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ checkpointSha256: string | null; workerPid: number | null }>(
        'SELECT "checkpointSha256", "workerPid" FROM "TrainingRun" WHERE id = $1',
        [Number(victimRun)],
      );
      expect(rows[0]!.checkpointSha256).toMatch(/^[0-9a-f]{64}$/);
      const victim = workers[workerIds.indexOf(holders[0]!)]!;
      victim.child.kill('SIGKILL');
      await once(victim.child, 'exit');
      const killedAt = Date.now();
      // Its Python worker notices that its parent is gone and stops by itself.
      await eventually(async () => (processAlive(rows[0]!.workerPid!) ? undefined : true), 'the orphaned Python worker to exit', 60_000);

      // No process of that worker is left to say anything: only the missing heartbeat tells.
      const interrupted = await eventually(
        async () => {
          const r = await run(victimRun);
          return r.status === 'INTERRUPTED' ? r : undefined;
        },
        'the run to be INTERRUPTED by its missing heartbeat',
        60_000,
      );
      expect(interrupted.error).toMatch(/stopped sending heartbeats/);
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual(3000 - 500); // not before the timeout

      const resumed = await b(`mutation($id: ID!) { resumeRun(id: $id) { id status } }`, { id: victimRun });
      expect(resumed.errors).toBeUndefined();
      const survivorId = workerIds.find((w) => w !== holders[0])!;
      const finished = await eventually(
        async () => {
          const runs = await Promise.all(ids.map(run));
          for (const r of runs) if (['FAILED', 'CANCELLED'].includes(r.status)) throw new Error(`a run ended ${r.status}: ${r.error}`);
          return runs.every((r) => r.status === 'SUCCEEDED') ? runs : undefined;
        },
        'both runs to succeed',
        300_000,
      );
      // The resumed run continued from epoch 1's checkpoint on the other worker (its own data folder
      // never saw that checkpoint: it came from the object store).
      expect(finished[0].progress.resumedFromEpoch).toBe(1);
      expect(finished[0].workerId).toBe(survivorId);
      expect(finished[0].attempts).toBe(2);
      expect(finished[0].epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
      expect((await run(survivorRun)).attempts).toBe(1);

      // Nothing lost, nothing twice: no job left in the queue, no run still RUNNING, one artifact each.
      const jobs = await db.query('SELECT count(*)::int AS n FROM graphile_worker.jobs');
      expect(jobs.rows[0].n).toBe(0);
      const artifacts = await db.query('SELECT count(*)::int AS n FROM "ModelArtifact"');
      expect(artifacts.rows[0].n).toBe(2);

      // An ensemble built through replica B ...
      const created = await b(`mutation($input: CreateEnsembleInput!) { createEnsemble(input: $input) { id isDefault } }`, {
        input: { name: 'cluster', members: finished.map((r) => ({ artifactId: r.artifact.id, weight: 1 })), makeDefault: true },
      });
      expect(created.errors).toBeUndefined();
      // ... answers identically through both replicas; neither replica trained or stored the graphs.
      // The item's photo comes from the object store on each replica: the uploaded folder is long gone.
      const item = (await db.query('SELECT id FROM "Item" ORDER BY id LIMIT 1')).rows[0];
      const classify = `query($input: ClassifyInput!) { classify(input: $input) { model results { tasks { task predicted { index } distribution { index probability } } } } }`;
      const input = { images: [{ itemId: String(item.id) }] };
      const [fromA, fromB] = await Promise.all([a(classify, { input }), b(classify, { input })]);
      expect(fromA.errors).toBeUndefined();
      expect(fromA.data!.classify.model).toContain('cluster');
      expect(fromA.data).toEqual(fromB.data);
    } finally {
      await db.end();
    }
  }, 600_000); // four processes train, die, resume and serve on two shared cores: about 3.5 minutes
});
