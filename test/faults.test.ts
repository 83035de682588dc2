// Faults, the quick cases (the long soak is bench/soak.ts): processes killed with SIGKILL in the middle of
// an import, an evaluation and serving, and several processes writing one SQLite file at once. Each
// case checks what a user would: nothing half stored, the work can be done again, nobody hangs, and no
// database-busy error reaches anyone.
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/api/server.js';
import type { App } from '../src/app.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { FashionHowClient, FashionHowError } from '../src/sdk/index.js';
import { runCli, startCli as startCliProcess } from './fixtures/cli.js';
import { sharedFixture } from './fixtures/shared.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS, TINY_TRAINING } from './fixtures/training.js';
import { graphqlClient, openTestApp, storedRowCounts, testDatabaseUrl, useScratchDir } from './helpers.js';

const scratch = useScratchDir();
let app: App;
let datasetId: number;
let artifactIds: number[];
const dataDir = () => path.join(scratch.dir, 'data');
const env = () => ({ ...process.env, FASHION_HOW_DATA_DIR: dataDir(), DATABASE_URL: testDatabaseUrl(dataDir()), LOG_LEVEL: 'silent' });

/** A CSV of 3000 small photos, written once per test run for this file on both databases (imports only read it). */
const bigCsv = async (seed: number) =>
  path.join(
    await sharedFixture(`faults-3000-${seed}`, async (dir) => void (await writeSyntheticDataset({ out: dir, count: 3000, seed, minSide: 32, maxSide: 40 }))),
    'train.csv',
  );

const startCli = (args: string[], extraEnv: Record<string, string> = {}) => startCliProcess(args, { ...env(), ...extraEnv });
const cli = (...args: string[]) => runCli(args, env());

beforeAll(async () => {
  app = await openTestApp(dataDir());
  const small = await writeSyntheticDataset({ out: path.join(scratch.dir, 'small'), count: 200, seed: 31, minSide: 48, maxSide: 64 });
  ({ datasetId } = await importDataset({ csvPath: small.csvPath, imageRoot: small.imageRoot }, app.services.importContext));
  artifactIds = await importTinyPair(app);
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(() => app.close());

describe('faults', () => {
  it('a CLI import killed while it stores leaves no partial dataset, and importing again works', async () => {
    const csv = await bigCsv(32);
    const before = await storedRowCounts(app);
    const importing = startCli(['import', csv, '--name', 'killed']);
    await importing.waitFor(/^storing 3000 items/m, 150_000); // after validating and storing the photos
    importing.child.kill('SIGKILL');
    expect(await importing.exited).toBeNull(); // killed, not finished
    const after = await storedRowCounts(app);
    // All or nothing: either the transaction had not committed (nothing new) or it had (all of it).
    const added = { datasets: after.datasets - before.datasets, items: after.items - before.items, labels: after.labels - before.labels };
    expect([
      { datasets: 0, items: 0, labels: 0 },
      { datasets: 1, items: 3000, labels: 9000 },
    ]).toContainEqual(added);
    const again = await cli('import', csv, '--name', 'killed');
    expect(again.code, again.stderr).toBe(0);
    const dataset = await app.services.db.dataset.findFirstOrThrow({ where: { name: 'killed' } });
    expect(await app.services.db.item.count({ where: { datasetId: dataset.id } })).toBe(3000);
  }, 240_000);

  it('an evaluation killed mid-way leaves no half report, and evaluating again works', async () => {
    const ensemble = await app.services.ensembles.create({ name: 'faults pair', members: artifactIds.map((artifactId) => ({ artifactId, weight: 1 })) });
    const reportRows = async () => ({ reports: await app.services.db.evaluationReport.count(), predictions: await app.services.db.reportPrediction.count() });
    const before = await reportRows();
    const evaluating = startCli(['evaluate', '--ensemble', String(ensemble.id), '--dataset', String(datasetId), '--split', 'ALL']);
    // Long enough to be scoring or writing (the CLI starts in about a second), short of the end.
    await new Promise((resolve) => setTimeout(resolve, 1800));
    evaluating.child.kill('SIGKILL');
    await evaluating.exited;
    const after = await reportRows();
    // An ensemble report is three reports (the vote and two members) of 200 items x 3 tasks each, or none.
    expect([
      { reports: 0, predictions: 0 },
      { reports: 3, predictions: 3 * 600 },
    ]).toContainEqual({ reports: after.reports - before.reports, predictions: after.predictions - before.predictions });
    const again = await cli('evaluate', '--ensemble', String(ensemble.id), '--dataset', String(datasetId), '--split', 'ALL');
    expect(again.code, again.stderr).toBe(0);
    const report = await app.services.db.evaluationReport.findFirstOrThrow({
      where: { ensembleId: ensemble.id },
      orderBy: { id: 'desc' },
      include: { confusionMatrices: true, memberReports: true },
    });
    expect(report.confusionMatrices.map((m) => (m.rows as number[][]).flat().reduce((a, b) => a + b, 0))).toEqual([200, 200, 200]);
    expect(report.memberReports).toHaveLength(2);
    expect((report.metrics as { gain?: unknown }).gain).toBeDefined();
  }, 120_000);

  it('training progress, a CLI import in another process and an evaluation write at once without a busy database', async () => {
    const other = await bigCsv(33);
    const server = await startServer(app);
    try {
      const trainer = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('faults trainer', 'trainer')).token);
      const [run] = await app.services.training.startTraining({
        datasetId,
        backbones: ['mobilenet_v3_small'],
        heads: ['feedforward'],
        options: { ...TINY_TRAINING, maxStepsPerEpoch: 8, epochs: 2 },
      });
      const importing = cli('import', other, '--name', 'concurrent');
      const evaluated = trainer(`mutation($input: EvaluateInput!) { evaluate(input: $input) { id itemCount } }`, {
        input: { artifactId: String(artifactIds[0]), datasetId: String(datasetId) },
      });
      const [imported, evaluation] = await Promise.all([importing, evaluated, app.services.training.waitFor([run!.id])]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toMatch(/^imported dataset \d+, version 1 \(digest [0-9a-f]{12}\): 3000 items/m);
      expect(evaluation.errors, JSON.stringify(evaluation.errors)).toBeUndefined();
      expect(evaluation.data?.evaluate.itemCount).toBe(200);
      const finished = await app.services.db.trainingRun.findUniqueOrThrow({ where: { id: run!.id } });
      expect(finished.status, finished.error ?? '').toBe('SUCCEEDED');
      expect(`${imported.stderr}${finished.error ?? ''}`).not.toMatch(/busy|locked/i);
    } finally {
      await server.close();
    }
  }, 180_000);

  it('clients of a server killed and restarted under load get a retryable error or an answer, never a hang', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const serve = () => startCli(['serve', '--port', String(port)], { LOG_LEVEL: 'error' });
    let server = serve();
    await server.waitFor(/^GraphQL: /m);
    const endpoint = `http://127.0.0.1:${port}/graphql`;
    const rows = (await app.services.db.item.findMany({ where: { datasetId }, take: 8, include: { dataset: true } })).map(
      ({ dataset, imagePath, xmin, ymin, xmax, ymax }) => ({ image: path.join(dataset.imageRoot, imagePath), bbox: { xmin, ymin, xmax, ymax } }),
    );
    const patient = new FashionHowClient({ endpoint, retries: 12, backoffMs: 100 });
    const outcomes: { ok: boolean; ms: number; code?: string; message?: string }[] = [];
    let stop = false;
    const loop = async (offset: number) => {
      for (let i = offset; !stop; i++) {
        const started = performance.now();
        try {
          await patient.classify([rows[i % rows.length]!], { artifactId: String(artifactIds[0]) });
          outcomes.push({ ok: true, ms: performance.now() - started });
        } catch (error) {
          outcomes.push({ ok: false, ms: performance.now() - started, code: (error as FashionHowError).code, message: (error as Error).message });
        }
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const servedBefore = outcomes.length;
    server.child.kill('SIGKILL'); // a crash, with requests in flight
    await server.exited;
    // While it is down, a client that does not retry is told so at once, with a code it can act on.
    const impatient = await new FashionHowClient({ endpoint, retries: 0 })
      .classify([rows[0]!], { artifactId: String(artifactIds[0]) })
      .catch((e: unknown) => e);
    expect(impatient).toBeInstanceOf(FashionHowError);
    expect(impatient).toMatchObject({ code: 'UNREACHABLE', message: expect.stringMatching(/ECONNREFUSED/) });
    server = serve();
    await server.waitFor(/^GraphQL: /m);
    const restartedAt = outcomes.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stop = true;
    await Promise.all(loops);
    server.child.kill('SIGTERM');
    await server.exited;
    expect(servedBefore).toBeGreaterThan(0);
    expect(outcomes.length).toBeGreaterThan(restartedAt); // served again after the restart
    expect(outcomes.filter((o) => !o.ok)).toEqual([]); // the patient client rode it out on retries
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(30_000); // nobody hung
  }, 120_000);
});
