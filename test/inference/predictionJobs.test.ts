// Batch prediction jobs on the real queue (in-process on SQLite, graphile-worker on PostgreSQL): a job
// whose process is killed with SIGKILL halfway is found INTERRUPTED, resumes with only the items it had
// not stored, and ends with every item of the prediction set written once; its table, in the CSV's line
// order, equals classify's answers for the same photos, item by item, computed here independently.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { FashionHowClient } from '../../src/sdk/index.js';
import { startCli } from '../fixtures/cli.js';
import { importTinyPair, TINY_PAIR_HOOK_TIMEOUT_MS } from '../fixtures/training.js';
import { eventually, openTestApp, testDatabaseUrl, useScratchDir } from '../helpers.js';

const ITEMS = 240;
const scratch = useScratchDir();
let app: App;
let datasetId: number;
let ensembleId: number;
let synthetic: Awaited<ReturnType<typeof writeSyntheticDataset>>;
const dataDir = () => path.join(scratch.dir, 'data');

beforeAll(async () => {
  app = await openTestApp(dataDir());
  synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: ITEMS, seed: 35, minSide: 48, maxSide: 64 });
  // The organisers' test CSV: image and bbox, no labels.
  const csv = path.join(scratch.dir, 'synth', 'test.csv');
  const lines = synthetic.rows.map((r) => [`"${r.imageName}"`, r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax].join(','));
  await writeFile(csv, `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax\n${lines.join('\n')}\n`);
  ({ datasetId } = await importDataset({ csvPath: csv, imageRoot: synthetic.imageRoot, name: 'test photos' }, app.services.importContext));
  const artifactIds = await importTinyPair(app);
  ({ id: ensembleId } = await app.services.ensembles.create({ name: 'pair', members: artifactIds.map((artifactId) => ({ artifactId, weight: 1 })) }));
}, TINY_PAIR_HOOK_TIMEOUT_MS);
afterAll(() => app?.close());

describe('batch prediction jobs', () => {
  it('a job killed with SIGKILL halfway resumes, writes every item once, and its table equals classify item by item', async () => {
    const env = { ...process.env, FASHION_HOW_DATA_DIR: dataDir(), DATABASE_URL: testDatabaseUrl(dataDir()), LOG_LEVEL: 'silent' };
    const predicting = startCli(['predict', '--dataset', String(datasetId), '--ensemble', String(ensembleId)], env, 'predict');
    const [, id] = await predicting.waitFor(/prediction job (\d+) queued/, 60_000);
    const jobId = Number(id);
    const stored = () => app.services.db.predictionJobRow.count({ where: { jobId } });
    await eventually(async () => ((await stored()) >= 48 ? true : undefined), 'a fifth of the items stored', 120_000, 20);
    predicting.child.kill('SIGKILL');
    expect(await predicting.exited).toBeNull();

    // What the killed attempt committed is whole: its count says exactly the rows it stored.
    expect(await app.services.predictions.interruptOrphans()).toEqual([jobId]);
    const interrupted = await app.services.predictions.get(jobId);
    expect(interrupted).toMatchObject({ status: 'INTERRUPTED', attempts: 1 });
    const before = await stored();
    expect(before).toBeLessThan(ITEMS);
    expect(interrupted.itemsDone).toBe(before);
    const firstAttempt = new Set((await app.services.db.predictionJobRow.findMany({ where: { jobId } })).map((r) => r.itemId));

    await app.services.predictions.startWorker();
    await app.services.predictions.resume(jobId);
    const [done] = await app.services.predictions.waitFor([jobId]);
    expect(done, done?.error ?? '').toMatchObject({ status: 'SUCCEEDED', attempts: 2, itemsDone: ITEMS, itemCount: ITEMS });
    const rows = await app.services.db.predictionJobRow.findMany({ where: { jobId }, orderBy: { line: 'asc' } });
    expect(rows).toHaveLength(ITEMS);
    expect(new Set(rows.map((r) => r.itemId)).size).toBe(ITEMS);
    // The first attempt's rows were kept as they were, not scored again.
    expect(rows.filter((r) => firstAttempt.has(r.itemId))).toHaveLength(before);

    const csv = parse(await readFile((await app.services.predictions.table(jobId, 'csv')).file), { columns: true }) as Record<string, string>[];
    const jsonl = (await readFile((await app.services.predictions.table(jobId, 'jsonl')).file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; image_name: string; predictions: Record<string, { class: number; probabilities: number[] }> });
    // The CSV's order: line 2 is the first row, each image and bbox as the CSV had it.
    expect(csv.map((r) => Number(r.line))).toEqual(synthetic.rows.map((_, i) => i + 2));
    expect(csv.map((r) => r.image_name)).toEqual(synthetic.rows.map((r) => r.imageName));
    expect(csv.map((r) => Number(r.BBox_xmax))).toEqual(synthetic.rows.map((r) => r.bbox.xmax));
    expect(jsonl.map((r) => r.image_name)).toEqual(csv.map((r) => r.image_name));

    // An independent scoring: each photo read from the original folder and sent through classify.
    const tasks = ['Daily', 'Gender', 'Embellishment'];
    for (let start = 0; start < ITEMS; start += 32) {
      const chunk = synthetic.rows.slice(start, start + 32);
      const images = await Promise.all(chunk.map(async (r) => ({ image: await readFile(path.join(synthetic.imageRoot, r.imageName)), bbox: r.bbox })));
      const { results } = await app.services.classify.score({ images, ensembleId });
      results.forEach((answer, i) => {
        const row = csv[start + i]!;
        answer.forEach((task, t) => {
          const best = task.probabilities.indexOf(Math.max(...task.probabilities));
          expect(Number(row[tasks[t]!]), `line ${row.line} ${tasks[t]}`).toBe(best);
          expect(row[`${tasks[t]}_name`]).toBe(task.classes[best]);
          task.probabilities.forEach((p, k) => {
            expect(Number(row[`${tasks[t]}_p${k}`])).toBeCloseTo(p, 6);
          });
          expect(jsonl[start + i]!.predictions[tasks[t]!]!.probabilities).toEqual(task.probabilities.map((_, k) => Number(row[`${tasks[t]}_p${k}`])));
        });
      });
    }
  }, 300_000);

  it('refuses what it cannot score with the reason, and cancels and resumes a job', async () => {
    await expect(app.services.predictions.create({ datasetId, model: 'nobody' })).rejects.toThrow('alias "nobody" does not exist');
    await expect(app.services.predictions.create({ datasetId: 999_999, ensembleId })).rejects.toThrow('dataset 999999 does not exist');
    await expect(app.services.predictions.create({ datasetId, ensembleId, split: 'TRAIN' })).rejects.toThrow('has no TRAIN items to predict');
    const job = await app.services.predictions.create({ datasetId, ensembleId });
    const cancelled = await app.services.predictions.cancel(job.id);
    expect(cancelled.status).toBe('CANCELLED');
    await expect(app.services.predictions.table(job.id, 'csv')).rejects.toThrow(/is CANCELLED; its table exists once it has SUCCEEDED/);
    await app.services.predictions.resume(job.id);
    const [done] = await app.services.predictions.waitFor([job.id]);
    expect(done).toMatchObject({ status: 'SUCCEEDED', itemsDone: ITEMS });
    expect(await app.services.db.predictionJobRow.count({ where: { jobId: job.id } })).toBe(ITEMS);
  }, 120_000);

  it('runs through GraphQL and the SDK, and serves its table over HTTP with the token', async () => {
    let server: RunningServer | undefined;
    try {
      server = await startServer(app);
      const { token } = await app.services.tokens.create('predictor', 'trainer');
      const client = new FashionHowClient({ endpoint: server.graphqlUrl, token });
      const queued = await client.predictDataset({ datasetId: String(datasetId), ensembleId: String(ensembleId) });
      expect(queued).toMatchObject({ status: 'QUEUED', itemCount: ITEMS, modelName: 'pair', csvUrl: null, dataset: { labelled: false } });
      const done = await client.waitForPredictionJob(queued.id, { pollMs: 200 });
      expect(done).toMatchObject({ status: 'SUCCEEDED', itemsDone: ITEMS, csvUrl: `/predictions/${queued.id}/table.csv` });
      const csv = await client.predictionTable(queued.id, 'csv');
      expect(csv.equals(await readFile((await app.services.predictions.table(Number(queued.id), 'csv')).file))).toBe(true);
      expect((await client.predictionJobs({ datasetId: String(datasetId) })).map((j) => j.id)).toContain(queued.id);
      await expect(client.predictionTable(queued.id, 'xml' as 'csv')).rejects.toThrow('format must be one of csv, jsonl, got "xml"');
      const stranger = await fetch(new URL(`/predictions/${queued.id}/table.csv`, server.url), { headers: { authorization: 'Bearer not-a-token' } });
      expect(stranger.status).toBe(401);
    } finally {
      await server?.close();
    }
  }, 120_000);
});
