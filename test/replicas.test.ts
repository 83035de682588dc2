// Serving replicas: two real `fashion-how serve` processes on one SQLite file with separate data
// folders, as two hosts would run them. An ensemble made the default through replica A reaches replica
// B without a restart: B's /readyz says 503 while it warms the new members, then 200, and B answers
// classify with the new default exactly as A does. (On PostgreSQL a notice arrives before the poll;
// on SQLite the poll is all there is, so this is the slower path.)
import type { ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App, Readiness } from '../src/app.js';
import { type SynthRow, writeSyntheticDataset } from '../src/data/synth.js';
import { DefaultEnsembleWatcher } from '../src/inference/defaultEnsemble.js';
import { ModelPool } from '../src/inference/models.js';
import { createMetrics } from '../src/metrics.js';
import { PgPubSub } from '../src/pubsub/postgresPubSub.js';
import { runCli, startCli } from './fixtures/cli.js';
import { scratchPostgresDatabase } from './fixtures/databases.js';
import { tinyModelFile } from './fixtures/tinyModel.js';
import { graphqlClient, multipartClient, openTestApp, TEST_DATABASE, testDatabaseUrl, useScratchDir } from './helpers.js';

const REFRESH_MS = 1000;
const scratch = useScratchDir();
/** The one database and the one artifact store (a shared folder) the replicas have in common. */
const databaseUrl = () => testDatabaseUrl(path.join(scratch.dir, 'shared')) || `file:${path.join(scratch.dir, 'shared.db')}`;
const sharedStore = () => path.join(scratch.dir, 'store');
let admin: App;
let token: string;
let modelIds: string[];
let row: SynthRow;
let image: string;
const replicas: { name: string; child: ChildProcess; url: string }[] = [];

/** Starts `fashion-how serve` on a free port with its own data folder and the shared database. */
async function startReplica(name: string) {
  const serve = startCli(
    ['serve', '--port', '0'],
    {
      ...process.env,
      DATABASE_URL: databaseUrl(),
      FASHION_HOW_ARTIFACT_STORE: sharedStore(),
      FASHION_HOW_DATA_DIR: path.join(scratch.dir, name),
      LOG_LEVEL: 'error',
      FASHION_HOW_MODEL_REFRESH_MS: String(REFRESH_MS),
    },
    `replica ${name}`,
  );
  const [, url] = await serve.waitFor(/^GraphQL: (http:\/\/\S+)\/graphql$/m);
  const replica = { name, child: serve.child, url: url! };
  replicas.push(replica);
  return replica;
}

async function readyz(url: string): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Readiness };
}

const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { model ensemble { id } results { tasks { task distribution { probability } } } } }`;
async function classify(url: string) {
  const { data, errors } = await graphqlClient(`${url}/graphql`)<{
    classify: { model: string; ensemble: { id: string }; results: { tasks: { task: string; distribution: { probability: number }[] }[] }[] };
  }>(CLASSIFY, {
    input: { images: [{ image, bbox: row.bbox }] },
  });
  expect(errors, JSON.stringify(errors)).toBeUndefined();
  return data!.classify;
}

const CREATE = `mutation($input: CreateEnsembleInput!) { createEnsemble(input: $input) { id name isDefault } }`;

beforeAll(async () => {
  admin = await openTestApp(path.join(scratch.dir, 'admin'), { databaseUrl: databaseUrl(), artifactStore: { kind: 'directory', dir: sharedStore() } });
  token = (await admin.services.tokens.create('replicas test', 'trainer')).token;
  // Two tiny graphs with the same tasks (so they can share an ensemble) and different input sizes (so
  // their answers differ).
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 2, seed: 10, minSide: 64, maxSide: 96 });
  row = synthetic.rows[0]!;
  image = (await readFile(path.join(synthetic.imageRoot, row.imageName))).toString('base64');
  const replicaA = await startReplica('a');
  await startReplica('b');
  const upload = multipartClient(`${replicaA.url}/graphql`, token);
  modelIds = [];
  for (const [size, kind] of [
    [24, 'logits'],
    [32, 'probabilities'],
  ] as const) {
    const file = await tinyModelFile(size, kind, 4, 2);
    const modelJson = {
      input: { size, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      outputKind: kind,
      tasks: [
        { name: 'Style', classes: ['a', 'b', 'c', 'd'], output: 'out_0' },
        { name: 'Fit', classes: ['x', 'y'], output: 'out_1' },
      ],
    };
    const imported = await upload(
      `mutation($input: ImportModelInput!) { importModel(input: $input) { id } }`,
      { input: { name: `tiny${size}`, onnx: null, modelJson: null } },
      {
        'input.onnx': await readFile(file),
        'input.modelJson': Buffer.from(JSON.stringify(modelJson)),
      },
    );
    expect(imported.errors, JSON.stringify(imported.errors)).toBeUndefined();
    modelIds.push(imported.data!.importModel.id as string);
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(
    replicas.map(({ child }) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    }),
  );
  await admin?.close();
});

/** Polls B's /readyz until it is ready with `ensembleId` as its default; returns what it saw on the way. */
async function untilReadyWith(url: string, ensembleId: string, timeoutMs = 15_000) {
  const seen: { ms: number; status: number; body: Readiness }[] = [];
  const started = performance.now();
  for (;;) {
    const answer = await readyz(url);
    seen.push({ ms: performance.now() - started, ...answer });
    if (answer.status === 200 && String(answer.body.defaultEnsemble?.id) === ensembleId) return { ms: performance.now() - started, seen };
    if (performance.now() - started > timeoutMs)
      throw new Error(`replica not ready with ensemble ${ensembleId} after ${timeoutMs} ms: ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('serving replicas on one database', () => {
  it('a default set through replica A is warmed by replica B within seconds: /readyz 503 while it warms, then 200, and equal answers', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const trainer = graphqlClient(`${a.url}/graphql`, token);
    // No ensemble yet: both ready (nothing to warm), each naming itself.
    const first = await readyz(b.url);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      ready: true,
      defaultEnsemble: null,
      replica: { changeNotices: TEST_DATABASE === 'postgresql' ? 'postgresql' : 'poll only', modelRefreshMs: REFRESH_MS },
    });
    expect(first.body.replica.id).toBe(`${first.body.replica.id.split(':')[0]}:${b.child.pid}`);

    const one = await trainer(CREATE, { input: { name: 'one', members: [{ artifactId: modelIds[0], weight: 1 }] } });
    expect(one.errors).toBeUndefined();
    expect(one.data?.createEnsemble).toMatchObject({ name: 'one', isDefault: true });
    const toOne = await untilReadyWith(b.url, one.data!.createEnsemble.id);
    expect(toOne.seen.at(-1)!.body.replica.modelsLoaded).toEqual([Number(modelIds[0])]);

    // The change under test: a new two-member ensemble made the default through A.
    const changed = performance.now();
    const two = await trainer(CREATE, {
      input: {
        name: 'two',
        makeDefault: true,
        members: [
          { artifactId: modelIds[0], weight: 1 },
          { artifactId: modelIds[1], weight: 3 },
        ],
      },
    });
    expect(two.errors).toBeUndefined();
    const twoId = two.data!.createEnsemble.id as string;
    const toTwo = await untilReadyWith(b.url, twoId);
    const propagationMs = performance.now() - changed;
    const waiting = toTwo.seen.filter((s) => s.status === 503);
    console.log(
      `replica B ready with the new default ${Math.round(propagationMs)} ms after replica A changed it (poll every ${REFRESH_MS} ms; ${waiting.length} /readyz answers of 503 on the way)`,
    );
    expect(propagationMs).toBeLessThan(REFRESH_MS + 5_000);
    // B names the new default as soon as the database has it, and says it is warming until it is warm.
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting[0]!.body).toMatchObject({
      ready: false,
      reason: `the default ensemble ${twoId} ("two") is warming on this replica: 1 of 2 models warm`,
      defaultEnsemble: { id: Number(twoId), warm: false, models: 2, modelsWarm: 1 },
    });
    const ready = toTwo.seen.at(-1)!.body;
    expect(ready).toMatchObject({ ready: true, defaultEnsemble: { id: Number(twoId), name: 'two', warm: true, models: 2, modelsWarm: 2 } });
    expect(ready.reason).toBeUndefined();
    // The first default's model stays loaded (see DefaultEnsembleWatcher).
    expect(ready.replica.modelsLoaded).toEqual(modelIds.map(Number));

    // B classifies with the new default and answers exactly as A does.
    const [fromA, fromB] = [await classify(a.url), await classify(b.url)];
    expect(fromB.ensemble.id).toBe(twoId);
    expect(fromB.model).toBe('two');
    expect(fromB).toEqual(fromA);
  });

  it('a default switched back through the CLI, a third process, reaches replica B too', async () => {
    const [, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    expect((await admin.services.ensembles.getDefault())?.name).toBe('two');
    const oneId = (await admin.services.db.ensemble.findFirstOrThrow({ where: { name: 'one' } })).id;
    const { stdout } = await runCli(['ensemble', 'default', String(oneId)], {
      ...process.env,
      DATABASE_URL: databaseUrl(),
      FASHION_HOW_DATA_DIR: path.join(scratch.dir, 'cli'),
      LOG_LEVEL: 'silent',
    });
    expect(stdout).toBe(`ensemble ${oneId} "one" is the default\n`);
    const toOne = await untilReadyWith(b.url, String(oneId));
    // Its model was still loaded, so B is ready at once with it.
    expect(toOne.seen.every((s) => s.status === 200)).toBe(true);
    expect((await classify(b.url)).ensemble.id).toBe(String(oneId));
  });

  it("says why a replica is not ready when the default's model cannot be loaded there, naming no path, and recovers when it can", async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const trainer = graphqlClient(`${a.url}/graphql`, token);
    // A graph no replica has seen (other bytes: the store and the caches are content-addressed).
    const copy = await readFile(await tinyModelFile(28, 'probabilities', 4, 2));
    const upload = multipartClient(`${a.url}/graphql`, token);
    const modelJson = {
      input: { size: 28, padValue: 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      outputKind: 'probabilities',
      tasks: [
        { name: 'Style', classes: ['a', 'b', 'c', 'd'], output: 'out_0' },
        { name: 'Fit', classes: ['x', 'y'], output: 'out_1' },
      ],
    };
    const imported = await upload(
      `mutation($input: ImportModelInput!) { importModel(input: $input) { id } }`,
      { input: { name: 'fragile', onnx: null, modelJson: null } },
      { 'input.onnx': copy, 'input.modelJson': Buffer.from(JSON.stringify(modelJson)) },
    );
    expect(imported.errors).toBeUndefined();
    const fragile = await admin.services.db.modelArtifact.findUniqueOrThrow({ where: { id: Number(imported.data!.importModel.id) } });
    // Gone from the shared store (a mount gone away) before any replica fetched it.
    await rm(fragile.onnxPath);
    const three = await trainer(CREATE, { input: { name: 'three', makeDefault: true, members: [{ artifactId: String(fragile.id), weight: 1 }] } });
    expect(three.errors).toBeUndefined();
    const threeId = Number(three.data!.createEnsemble.id);
    let answer = await readyz(b.url);
    const deadline = Date.now() + REFRESH_MS + 5_000;
    while (!answer.body.reason?.includes('cannot be loaded') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      answer = await readyz(b.url);
    }
    expect(answer.status).toBe(503);
    expect(answer.body.reason).toBe(
      `the default ensemble ${threeId} ("three") cannot be loaded on this replica: artifact ${fragile.id} ("fragile") cannot be served: its ONNX file is missing from the artifact store; other models keep serving`,
    );
    expect(JSON.stringify(answer.body)).not.toContain(scratch.dir);
    // The file comes back (a shared mount remounted): a later check (every ten polls) loads it.
    await writeFile(fragile.onnxPath, copy);
    const recovered = await untilReadyWith(b.url, String(threeId), 10 * REFRESH_MS + 15_000);
    expect(recovered.seen[0]!.status).toBe(503);
  });

  it('on PostgreSQL a notice from another process makes a replica warm the new default at once, long before its poll', async () => {
    // The notices travel through a PostgreSQL database of their own (the ensembles stay in this suite's
    // database, SQLite or PostgreSQL): the replica's watcher listens through one PgPubSub, the process
    // that changes the default publishes through another, and the poll is an hour away.
    const scratchPg = await scratchPostgresDatabase('fashion_how_replicas');
    const log = admin.log;
    const [changer, listener] = [await PgPubSub.open(scratchPg.url, { log }), await PgPubSub.open(scratchPg.url, { log })];
    const pool = new ModelPool(
      admin.services.db,
      { maxBatch: 4, maxWaitMs: 0, maxQueue: 16, intraOpThreads: 1 },
      createMetrics(),
      admin.services.artifactStore,
    );
    const watcher = new DefaultEnsembleWatcher(admin.services.ensembles, pool, { refreshMs: 3_600_000, log });
    try {
      await watcher.start(listener);
      const current = (await admin.services.ensembles.getDefault())!;
      expect((await admin.services.ensembles.members(current.id)).every((m) => pool.isWarm(m.artifactId))).toBe(true);
      const two = await admin.services.db.ensemble.findFirstOrThrow({ where: { name: 'two' } });
      expect(pool.isWarm(Number(modelIds[1]))).toBe(false);
      // What the other process does: change the row, then announce it.
      await admin.services.db.$transaction([
        admin.services.db.ensemble.updateMany({ data: { isDefault: false } }),
        admin.services.db.ensemble.update({ where: { id: two.id }, data: { isDefault: true } }),
      ]);
      const sent = performance.now();
      changer.publish('ensemblesChanged', { ensembleId: two.id });
      while (!modelIds.every((id) => pool.isWarm(Number(id)))) {
        if (performance.now() - sent > 5_000) throw new Error('the notice did not make the watcher warm the new default within 5 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      console.log(`a PostgreSQL notice had the new default warm ${Math.round(performance.now() - sent)} ms after it was sent`);
    } finally {
      await watcher.stop();
      await Promise.all([changer.close(), listener.close()]);
      await pool.close();
      await scratchPg.drop();
    }
  });
});
