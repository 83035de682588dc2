// A batch prediction job's throughput beside the in-process pipeline it runs on: the same items of an
// unlabelled prediction set (photo-sized synthetic images) scored by the same model, once directly
// through scoreItems (the serving path: preprocessing, micro-batcher, ONNX Runtime, no database writes)
// and once as a job on the queue (claim, chunked writes of every row with its count, heartbeats, and the
// CSV and JSON lines tables put in the artifact store), alternately, after a warm-up. It prints items/s
// of each round and the job's ratio to the pipeline. With --kill-halfway, one more job runs first in a
// `fashion-how predict` process that is killed with SIGKILL once half the items are stored, and is
// resumed here: the bench then checks every item was written once and the first attempt's rows kept.
// The database is the settings' (DATABASE_URL): a postgresql:// one puts the jobs on PostgreSQL's queue.
//   npm run bench:predict [-- --items 300 --backbone resnet18 --size 64 --rounds 2 --kill-halfway]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app.js';
import { importDataset } from '../src/data/import.js';
import { Photos } from '../src/data/photos.js';
import { scoreItems } from '../src/inference/scoring.js';
import { startCli } from '../test/fixtures/cli.js';
import { arg, trainedModel } from './servedModel.js';

const items = Number(arg('items', '300'));
const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '64'));
const rounds = Number(arg('rounds', '2'));
const killHalfway = process.argv.includes('--kill-halfway');
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-predict-'));
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' };
try {
  const { config, synthetic, artifact } = await trainedModel({ dir, env, backbone, size, count: items, seed: 7, tokenNames: [] });
  const app = await openApp(config);
  try {
    const csv = path.join(path.dirname(synthetic.csvPath), 'test.csv');
    const rows = synthetic.rows.map((r) => [`"${r.imageName}"`, r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax].join(','));
    await writeFile(csv, `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax\n${rows.join('\n')}\n`);
    const { datasetId } = await importDataset({ csvPath: csv, imageRoot: synthetic.imageRoot, name: 'bench test set' }, app.services.importContext);
    const dataset = await app.services.db.dataset.findUniqueOrThrow({ where: { id: datasetId } });
    const stored = await app.services.db.item.findMany({ where: { datasetId }, orderBy: { line: 'asc' } });
    const photos = new Photos(app.services.artifactStore).of(dataset);
    const pipeline = async () => {
      const started = performance.now();
      await scoreItems(app.services.classify, photos, stored, { artifactId: artifact.id });
      return items / ((performance.now() - started) / 1000);
    };
    const job = async () => {
      const started = performance.now();
      const created = await app.services.predictions.create({ datasetId, artifactId: artifact.id });
      const [done] = await app.services.predictions.waitFor([created.id], 20);
      if (done?.status !== 'SUCCEEDED') throw new Error(`job ${created.id} ended ${done?.status}: ${done?.error}`);
      return { wall: items / ((performance.now() - started) / 1000), scoring: done.itemsPerSecond ?? Number.NaN };
    };
    await pipeline(); // warm-up: the session loaded, the photos in this host's cache
    const database = config.databaseUrl.startsWith('postgres') ? 'PostgreSQL (its job queue)' : 'SQLite';
    console.log(`${items} items, ${backbone} at ${size} px, ${database}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'})`);
    // Killed halfway first: on PostgreSQL the job goes to whichever worker claims it, and this process
    // becomes one only after the kill (the `fashion-how predict` process must hold the job it is killed with).
    if (killHalfway) {
      const started = performance.now();
      const predicting = startCli(['predict', '--dataset', String(datasetId), '--artifact', String(artifact.id)], { ...env, LOG_LEVEL: 'silent' }, 'predict');
      const [, id] = await predicting.waitFor(/prediction job (\d+) queued/, 120_000);
      const jobId = Number(id);
      const stored = () => app.services.db.predictionJobRow.count({ where: { jobId } });
      while ((await stored()) < items / 2) await new Promise((resolve) => setTimeout(resolve, 20));
      predicting.child.kill('SIGKILL');
      await predicting.exited;
      const killedAt = (performance.now() - started) / 1000;
      const interrupted = await app.services.predictions.interruptOrphans();
      const before = await stored();
      const firstAttempt = new Set((await app.services.db.predictionJobRow.findMany({ where: { jobId }, select: { itemId: true } })).map((r) => r.itemId));
      await app.services.predictions.startWorker(); // on PostgreSQL this process now works the queue
      await app.services.predictions.resume(jobId);
      const [done] = await app.services.predictions.waitFor([jobId], 20);
      const rows = await app.services.db.predictionJobRow.findMany({ where: { jobId }, select: { itemId: true } });
      const distinct = new Set(rows.map((r) => r.itemId));
      const kept = rows.filter((r) => firstAttempt.has(r.itemId)).length;
      const csvLines = (await readFile((await app.services.predictions.table(jobId, 'csv')).file, 'utf8')).trim().split('\n').length - 1;
      const ok =
        done?.status === 'SUCCEEDED' &&
        interrupted.includes(jobId) &&
        rows.length === items &&
        distinct.size === items &&
        kept === before &&
        csvLines === items;
      console.log(
        `killed with SIGKILL at ${killedAt.toFixed(1)} s with ${before} of ${items} items stored (found INTERRUPTED: ${interrupted.includes(jobId)}); ` +
          `resumed: ${done?.status}, attempts ${done?.attempts}, ${rows.length} rows for ${distinct.size} distinct items, ${kept} of the first attempt's ${before} kept, ` +
          `the CSV table ${csvLines} rows; ${((performance.now() - started) / 1000).toFixed(1)} s in all: ${ok ? 'every item written once' : 'FAILED'}`,
      );
      if (!ok) process.exitCode = 1;
    }
    await app.services.predictions.startWorker(); // PostgreSQL's queue: this process works the rounds' jobs
    console.log('round  pipeline items/s  job items/s (create to table)  job scoring items/s  job / pipeline');
    for (let round = 1; round <= rounds; round++) {
      const direct = await pipeline();
      const asJob = await job();
      console.log(
        `${String(round).padEnd(7)}${direct.toFixed(1).padEnd(18)}${asJob.wall.toFixed(1).padEnd(31)}${asJob.scoring.toFixed(1).padEnd(21)}${(asJob.wall / direct).toFixed(2)}`,
      );
    }
  } finally {
    await app.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
