// Serving benchmark, all on this machine and in one run:
//   (a) in one process: onnxruntime-node on pre-made tensors at the best batch size; the same with the
//       serving preprocessing (sharp: decode, crop, letterbox) counted in, with its CPU-seconds per
//       image; and one image at a time (preprocess + model), the floor for a lone client's latency;
//   (b) classify end to end against a `fashion-how serve` process: 16 concurrent clients sending one
//       image per request, as multipart file parts and as base64 JSON, with the server's own CPU-seconds
//       per image (its process_cpu_seconds_total before and after), throughput and p50 / p99; and one
//       client sending one image at a time (p50);
//   (c) the same model in a plain PyTorch eager loop on CPU (bench/serve_torch.py), on the same images;
//   --sweep: (b) multipart again for micro-batch sizes and waits (FASHION_HOW_MICROBATCH_MAX / _WAIT_MS).
// Targets (issue 15): server CPU per image <= 1.15 x (a); lone-client p50 <= 1.5 x (a) one at a time.
//   npm run bench:serve [-- --backbone resnet18 --size 224 --requests 400 --sweep]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { preprocess } from '../src/data/image.js';
import { openSession } from '../src/inference/onnx.js';
import { type ModelInfo, preprocessSpecOf } from '../src/inference/registry.js';
import { findPython } from '../src/training/python.js';
import { arg, CLASSIFY_QUERY, multipartClassify, percentile, startServe, trainedModel } from './servedModel.js';

const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '224'));
const requests = Number(arg('requests', '400'));
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-bench-serve-'));
// The clients share one address: lift the per-client limit, this measures throughput, not fairness.
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent', FASHION_HOW_MAX_CLIENT_CONCURRENCY: '1000' };
const { config, synthetic, artifact, tokens, files } = await trainedModel({ dir, env, backbone, size, count: 256, seed: 2, tokenNames: ['bench'] });
const token = tokens[0]!;
const info = artifact.modelInfo as unknown as ModelInfo;
const spec = preprocessSpecOf(info.input);
const limits = config.imageLimits;
const rows = synthetic.rows;

// (a) onnxruntime-node alone, then with preprocessing (CPU time of this process counted), then one at a time.
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const session = await openSession(artifact.onnxPath);
const one = (await preprocess(files[0]!, rows[0]!.bbox, spec, limits)).tensor;
let best = { batch: 1, rate: 0 };
const rates: string[] = [];
for (const batch of [1, 4, 8, 16, 32]) {
  const input = new Float32Array(batch * one.length);
  for (let i = 0; i < batch; i++) input.set(one, i * one.length);
  await session.run(input, batch, size);
  const rounds = Math.max(2, Math.ceil(96 / batch));
  const started = performance.now();
  for (let r = 0; r < rounds; r++) await session.run(input, batch, size);
  const rate = (rounds * batch) / ((performance.now() - started) / 1000);
  rates.push(`${batch}: ${rate.toFixed(1)}`);
  if (rate > best.rate) best = { batch, rate };
}
const limit = pLimit(4);
const started = performance.now();
const cpuStarted = cpuSeconds();
const tensors = await Promise.all(rows.map((r, i) => limit(async () => (await preprocess(files[i]!, r.bbox, spec, limits)).tensor)));
for (let i = 0; i < tensors.length; i += best.batch) {
  const chunk = tensors.slice(i, i + best.batch);
  const input = new Float32Array(chunk.length * one.length);
  chunk.forEach((t, j) => {
    input.set(t, j * one.length);
  });
  await session.run(input, chunk.length, size);
}
const withPreprocessing = tensors.length / ((performance.now() - started) / 1000);
const inProcessCpu = (cpuSeconds() - cpuStarted) / tensors.length;
const single: number[] = [];
for (let i = 0; i < 64; i++) {
  const t = performance.now();
  await session.run((await preprocess(files[i % files.length]!, rows[i % rows.length]!.bbox, spec, limits)).tensor, 1, size);
  single.push(performance.now() - t);
}
await session.release();

// (b) end to end through a server process.
const jsonBodies = rows.map((r, i) =>
  JSON.stringify({
    query: CLASSIFY_QUERY,
    variables: { input: { artifactId: String(artifact.id), images: [{ image: files[i]!.toString('base64'), bbox: r.bbox }] } },
  }),
);
const multipartBodies = rows.map((r, i) => multipartClassify(artifact.id, r.bbox, files[i]!));

interface Load {
  rate: number;
  p50: number;
  p99: number;
  cpuPerImage: number;
}

async function startServer(extraEnv: Record<string, string> = {}) {
  const { url, metrics, stop } = await startServe({ ...env, ...extraEnv });
  /** The server process's own CPU-seconds so far. */
  const serverCpu = async () => (await metrics())('process_cpu_seconds_total');
  const call = async (i: number, multipart: boolean) => {
    const t = performance.now();
    const headers: Record<string, string> = multipart ? { 'apollo-require-preflight': 'true' } : { 'content-type': 'application/json' };
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${token}` },
      body: multipart ? multipartBodies[i % rows.length] : jsonBodies[i % rows.length],
    });
    const answer = (await response.json()) as { errors?: unknown[] };
    if (answer.errors) throw new Error(JSON.stringify(answer.errors));
    return performance.now() - t;
  };
  /** `count` requests from `clients` concurrent clients. */
  const load = async (count: number, clients: number, multipart: boolean): Promise<Load> => {
    const latencies: number[] = [];
    let next = 0;
    const cpuBefore = await serverCpu();
    const began = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < count) latencies.push(await call(next++, multipart));
      }),
    );
    const seconds = (performance.now() - began) / 1000;
    return { rate: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuPerImage: ((await serverCpu()) - cpuBefore) / count };
  };
  for (let i = 0; i < 32; i++) await call(i, i % 2 === 0); // warm-up, both paths
  return { load, stop };
}

const clients = 16;
const server = await startServer();
const multipart = await server.load(requests, clients, true);
const base64 = await server.load(requests, clients, false);
const lone = await server.load(64, 1, true);
await server.stop();

const sweep: { maxBatch: number; waitMs: number; result: Load }[] = [];
if (process.argv.includes('--sweep')) {
  for (const maxBatch of [4, 8, 16, 32]) {
    for (const waitMs of [0, 5]) {
      const swept = await startServer({ FASHION_HOW_MICROBATCH_MAX: String(maxBatch), FASHION_HOW_MICROBATCH_WAIT_MS: String(waitMs) });
      sweep.push({ maxBatch, waitMs, result: await swept.load(requests, clients, true) });
      await swept.stop();
    }
  }
}

// (c) PyTorch eager on the same images.
const itemsFile = path.join(dir, 'items.json');
await writeFile(
  itemsFile,
  JSON.stringify(rows.map((r) => ({ path: path.join(synthetic.imageRoot, r.imageName), bbox: [r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax] }))),
);
const python = await findPython(process.env.FASHION_HOW_PYTHON);
const torchRun = spawnSync(
  python.executable,
  [new URL('./serve_torch.py', import.meta.url).pathname, path.dirname(artifact.onnxPath), itemsFile, String(best.batch)],
  { encoding: 'utf8' },
);
if (torchRun.status !== 0) throw new Error(torchRun.stderr);
const eager = JSON.parse(torchRun.stdout.trim().split('\n').pop()!) as { withPreprocessing: number; modelOnly: number };

const row = (name: string, l: Load) => `| ${name} | ${l.rate.toFixed(1)} | ${l.p50.toFixed(1)} | ${l.p99.toFixed(1)} | ${(l.cpuPerImage * 1000).toFixed(1)} |`;
console.log(
  `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; model ${backbone}+feedforward at ${size} px (${(artifact.sizeBytes / 1e6).toFixed(1)} MB ONNX)`,
);
console.log(`onnxruntime-node images/s by batch size: ${rates.join(', ')}`);
console.log('');
console.log('| path | images/s | p50 ms | p99 ms | CPU ms per image |');
console.log('|---|---:|---:|---:|---:|');
console.log(`| (a) onnxruntime-node, pre-made tensors, batch ${best.batch} | ${best.rate.toFixed(1)} | | | |`);
console.log(`| (a) + preprocessing (sharp decode, crop, letterbox), one process | ${withPreprocessing.toFixed(1)} | | | ${(inProcessCpu * 1000).toFixed(1)} |`);
console.log(
  `| (a) one image at a time, preprocessing + model | ${(1000 / percentile(single, 50)).toFixed(1)} | ${percentile(single, 50).toFixed(1)} | ${percentile(single, 99).toFixed(1)} | |`,
);
console.log(row(`(b) classify, ${clients} clients, 1 image per request, multipart`, multipart));
console.log(row(`(b) classify, ${clients} clients, 1 image per request, base64 JSON`, base64));
console.log(row('(b) classify, 1 client, 1 image at a time, multipart', lone));
console.log(`| (c) PyTorch eager, PIL preprocessing + model, batch ${best.batch} | ${eager.withPreprocessing.toFixed(1)} | | | |`);
console.log(`| (c) PyTorch eager, model only | ${eager.modelOnly.toFixed(1)} | | | |`);
if (sweep.length > 0) {
  console.log('');
  console.log('| FASHION_HOW_MICROBATCH_MAX | _WAIT_MS | images/s | p50 ms | p99 ms | server CPU ms per image |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const { maxBatch, waitMs, result } of sweep)
    console.log(
      `| ${maxBatch} | ${waitMs} | ${result.rate.toFixed(1)} | ${result.p50.toFixed(1)} | ${result.p99.toFixed(1)} | ${(result.cpuPerImage * 1000).toFixed(1)} |`,
    );
}
console.log('');
console.log(
  `server CPU per image / in-process (multipart) = ${(multipart.cpuPerImage / inProcessCpu).toFixed(2)} (target <= 1.15); base64 JSON: ${(base64.cpuPerImage / inProcessCpu).toFixed(2)}`,
);
console.log(`lone client p50 / one image at a time in process = ${(lone.p50 / percentile(single, 50)).toFixed(2)} (target <= 1.5)`);
console.log(
  `(b) multipart / (a with preprocessing) = ${(multipart.rate / withPreprocessing).toFixed(2)}; (b) multipart / (c with preprocessing) = ${(multipart.rate / eager.withPreprocessing).toFixed(2)}`,
);
await rm(dir, { recursive: true, force: true });
