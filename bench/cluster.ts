// Beyond one machine, measured on this machine (npm run bench:cluster):
//  1. job pick-up: startTraining -> the run is RUNNING, taken by a `fashion-how worker` process through
//     PostgreSQL's job queue, beside the in-process queue of SQLite (the process that queues, runs);
//  2. cancel across processes: cancelRun in one process -> the worker process has stopped its Python
//     worker and recorded CANCELLED, beside a cancel in the process that runs the job;
//  3. classify throughput of two `fashion-how serve` replicas on one PostgreSQL database vs one replica,
//     the same clients either all on one replica or split across both (the two cores of this machine
//     bound both: the figure says what replication costs here, not what it gains on two hosts).
// Options: --runs N (pick-up/cancel samples, default 5), --seconds S (per throughput phase, default 20),
// --clients C (default 16), --only jobs|replicas; the PostgreSQL server is the tests' (FASHION_HOW_TEST_POSTGRESQL_SERVER).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type App, openApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { startCli } from '../test/fixtures/cli.js';
import { POSTGRESQL_SERVER, scratchPostgresDatabase } from '../test/fixtures/databases.js';
import { arg, multipartClassify, percentile, startServe, trainedModel } from './servedModel.js';

const runs = Number(arg('runs', '5'));
const seconds = Number(arg('seconds', '20'));
const clients = Number(arg('clients', '16'));
// Long enough to be RUNNING when cancelled: many steps of a tiny model.
const LONG_RUN = {
  imageSize: 32,
  epochs: 20,
  batchSize: 4,
  hiddenSize: 16,
  cutmix: 'offline',
  cutmixCopies: 32,
  dataLoaderWorkers: 0,
  threads: 1,
  pretrained: 'none',
} as const;

const ms = (values: number[]) =>
  `median ${percentile(values, 50).toFixed(0)} ms (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)})`;
const sleep = (t: number) => new Promise((resolve) => setTimeout(resolve, t));

async function until<T>(probe: () => Promise<T | undefined>, every = 5): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(every);
  }
}

/** Pick-up and cancel latencies of `runs` runs queued by `queuer`. `cancel` stops a RUNNING run: the
 *  service's own cancelRun, or (another host) only what cancelRun writes for a run held elsewhere. */
async function latencies(queuer: App, datasetId: number, cancel: (runId: number) => Promise<unknown>) {
  const pickUp: number[] = [];
  const cancelled: number[] = [];
  for (let i = 0; i < runs; i++) {
    const queuedAt = performance.now();
    const [run] = await queuer.services.training.startTraining({
      datasetId,
      backbones: ['mobilenet_v3_small'],
      heads: ['feedforward'],
      options: { ...LONG_RUN, seed: i },
    });
    await until(async () => ((await queuer.services.db.trainingRun.findUniqueOrThrow({ where: { id: run!.id } })).status === 'RUNNING' ? true : undefined));
    pickUp.push(performance.now() - queuedAt);
    // Cancel once the Python worker is training (a cancel before it starts is a different path).
    await until(async () => {
      const r = await queuer.services.db.trainingRun.findUniqueOrThrow({ where: { id: run!.id } });
      return (r.progress as { phase?: string } | null)?.phase === 'TRAINING' && r.workerPid ? true : undefined;
    }, 20);
    const cancelledAt = performance.now();
    await cancel(run!.id);
    // Done when the process running it wrote its final record (after its Python worker exited).
    await until(async () => {
      const r = await queuer.services.db.trainingRun.findUniqueOrThrow({ where: { id: run!.id } });
      return r.status === 'CANCELLED' && r.workerPid === null && r.heartbeatAt === null ? true : undefined;
    });
    cancelled.push(performance.now() - cancelledAt);
  }
  return { pickUp, cancel: cancelled };
}

async function dataset(app: App, dir: string) {
  const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count: 40, seed: 3, minSide: 64, maxSide: 96 });
  return (await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext)).datasetId;
}

async function jobFigures(dir: string) {
  // Baseline: SQLite, the in-process queue.
  const local = await openApp(loadConfig({ FASHION_HOW_DATA_DIR: path.join(dir, 'local'), LOG_LEVEL: 'silent' }));
  const localFigures = await latencies(local, await dataset(local, path.join(dir, 'local')), (id) => local.services.training.cancel(id));
  await local.close();

  // PostgreSQL: this process queues and cancels (as a server with --no-worker would); a worker process runs.
  const database = await scratchPostgresDatabase('fh_bench_jobs');
  const env = { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: 'silent' };
  const queuer = await openApp(loadConfig({ ...env, FASHION_HOW_DATA_DIR: path.join(dir, 'queuer') }));
  const datasetId = await dataset(queuer, path.join(dir, 'queuer'));
  const started = startCli(['worker', '--concurrency', '1'], { ...env, FASHION_HOW_DATA_DIR: path.join(dir, 'worker') }, 'the worker');
  const worker = started.child;
  await started.waitFor(/taking training jobs/);
  // On one machine cancelRun also signals the worker's process directly; a worker on another host
  // learns it only from the run's record at its next heartbeat, so that is what is written here.
  const remoteCancel = (id: number) =>
    queuer.services.db.trainingRun.updateMany({ where: { id, status: 'RUNNING' }, data: { status: 'CANCELLED', finishedAt: new Date() } });
  const queued = await latencies(queuer, datasetId, remoteCancel);
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  await queuer.close();
  await database.drop();
  return { local: localFigures, queued };
}

/** Images per second that `clients` clients get, client i sending to urls[i % urls.length]. */
async function throughput(
  urls: string[],
  artifactId: number,
  images: { file: Buffer; bbox: { xmin: number; ymin: number; xmax: number; ymax: number } }[],
  tokens: string[],
) {
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const url = urls[c % urls.length]!;
      for (let i = c; performance.now() < deadline; i += clients) {
        const image = images[i % images.length]!;
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[c % tokens.length]}`, 'apollo-require-preflight': 'true' },
          body: multipartClassify(artifactId, image.bbox, image.file),
        });
        const body = (await response.json()) as { errors?: unknown[] };
        if (!body.errors) done++;
      }
    }),
  );
  return done / seconds;
}

async function replicaFigures(dir: string) {
  const database = await scratchPostgresDatabase('fh_bench_serve');
  const env = { ...process.env, DATABASE_URL: database.url, FASHION_HOW_DATA_DIR: path.join(dir, 'serve-a'), LOG_LEVEL: 'silent' };
  const tokenNames = Array.from({ length: 8 }, (_, i) => `client ${i}`);
  const model = await trainedModel({ dir, env, backbone: 'resnet18', size: 224, count: 64, seed: 5, tokenNames });
  const images = model.synthetic.rows.map((row, i) => ({ file: model.files[i]!, bbox: row.bbox }));
  const a = await startServe(env);
  const b = await startServe({ ...env, FASHION_HOW_DATA_DIR: path.join(dir, 'serve-b') });
  // Warm both replicas' model (each fetches the graph into its own cache) before timing.
  await throughput([a.url, b.url], model.artifact.id, images.slice(0, 4), model.tokens);
  const one = await throughput([a.url], model.artifact.id, images, model.tokens);
  const two = await throughput([a.url, b.url], model.artifact.id, images, model.tokens);
  await Promise.all([a.stop(), b.stop()]);
  await database.drop();
  return { one, two };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-bench-cluster-'));
try {
  console.log(
    `cluster benchmark on ${os.cpus().length} cores, PostgreSQL at ${new URL(POSTGRESQL_SERVER).host}: ${runs} runs, ${seconds} s per throughput phase, ${clients} clients`,
  );
  const only = arg('only', 'all');
  if (only !== 'replicas') {
    const jobs = await jobFigures(dir);
    console.log(
      `job pick-up (startTraining -> RUNNING):  in-process queue (SQLite) ${ms(jobs.local.pickUp)} | PostgreSQL queue, worker process ${ms(jobs.queued.pickUp)}`,
    );
    console.log(
      `cancel (cancelRun -> worker stopped):    same process (SQLite)      ${ms(jobs.local.cancel)} | another host, at its next heartbeat (every ${loadConfig({}).heartbeatMs} ms) ${ms(jobs.queued.cancel)}`,
    );
  }
  if (only !== 'jobs') {
    const replicas = await replicaFigures(dir);
    console.log(
      `classify throughput, ${clients} clients:   one replica ${replicas.one.toFixed(1)} images/s | two replicas ${replicas.two.toFixed(1)} images/s | ratio ${(replicas.two / replicas.one).toFixed(2)} (both on the same ${os.cpus().length} cores)`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
