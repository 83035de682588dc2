// Serving benchmark, all on this machine and in one run:
//   (a) onnxruntime-node on pre-made tensors at the best batch size, and the same with the serving
//       preprocessing (sharp: decode, crop, letterbox) counted in;
//   (b) classify end to end over HTTP + GraphQL, 16 concurrent clients, one JPEG per request, against a
//       `fashion-how serve` process (micro-batching on), with p50 / p99 latency;
//   (c) the same model in a plain PyTorch eager loop on CPU (bench/serve_torch.py), on the same images.
// Targets: (b) >= 0.8 x (a with preprocessing), (b) >= 1.5 x (c).
//   npm run bench:serve [-- --backbone resnet18 --size 224 --requests 400]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { preprocess } from '../src/data/image.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { openSession } from '../src/inference/onnx.js';
import { type ModelInfo, preprocessSpecOf } from '../src/inference/registry.js';
import { findPython } from '../src/training/python.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '224'));
const requests = Number(arg('requests', '400'));
const clients = 16;
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-bench-serve-'));
// The clients share one address: lift the per-client limit, this measures throughput, not fairness.
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent', FASHION_HOW_MAX_CLIENT_CONCURRENCY: '1000' };
const config = loadConfig(env);

// A model to serve: one real training step of the chosen backbone (its weights do not change the speed).
const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count: 256, seed: 2, minSide: 240, maxSide: 480 });
const app = await openApp(config);
const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext);
const [run] = await app.services.training.startTraining({ datasetId, backbones: [backbone], heads: ['feedforward'], options: { epochs: 1, imageSize: size, batchSize: 8, maxStepsPerEpoch: 1, cutmix: 'off', dataLoaderWorkers: 0, bnCalibrationImages: 8 } });
await app.services.training.waitFor([run!.id]);
const artifact = await app.services.db.modelArtifact.findFirstOrThrow({ where: { runId: run!.id } });
const { token } = await app.services.tokens.create('bench', 'reader');
await app.close();
const info = artifact.modelInfo as unknown as ModelInfo;
const spec = preprocessSpecOf(info.input);
const limits = config.imageLimits;
const rows = synthetic.rows;
const files = await Promise.all(rows.map((r) => readFile(path.join(synthetic.imageRoot, r.imageName))));

// (a) onnxruntime-node alone, then with preprocessing.
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
let started = performance.now();
const tensors = await Promise.all(rows.map((r, i) => limit(async () => (await preprocess(files[i]!, r.bbox, spec, limits)).tensor)));
for (let i = 0; i < tensors.length; i += best.batch) {
  const chunk = tensors.slice(i, i + best.batch);
  const input = new Float32Array(chunk.length * one.length);
  chunk.forEach((t, j) => input.set(t, j * one.length));
  await session.run(input, chunk.length, size);
}
const withPreprocessing = tensors.length / ((performance.now() - started) / 1000);
await session.release();

// (b) end to end through a server process.
const server = spawn(process.execPath, [new URL('../bin/fashion-how.js', import.meta.url).pathname, 'serve', '--port', '0'], { env: { ...env, LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((resolve) => {
  let out = '';
  server.stdout!.on('data', (chunk) => {
    out += chunk;
    const match = out.match(/GraphQL: (\S+)/);
    if (match) resolve(match[1]!);
  });
});
const query = `query($input: ClassifyInput!) { classify(input: $input) { results { tasks { predicted { index probability } } } } }`;
const bodies = rows.map((r, i) => JSON.stringify({ query, variables: { input: { artifactId: String(artifact.id), images: [{ image: files[i]!.toString('base64'), bbox: r.bbox }] } } }));
const call = async (i: number) => {
  const t = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: bodies[i % bodies.length] });
  const answer = (await response.json()) as { errors?: unknown[] };
  if (answer.errors) throw new Error(JSON.stringify(answer.errors));
  return performance.now() - t;
};
for (let i = 0; i < 32; i++) await call(i); // warm-up
const latencies: number[] = [];
let next = 0;
started = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (next < requests) latencies.push(await call(next++));
}));
const endToEnd = requests / ((performance.now() - started) / 1000);
server.kill('SIGTERM');
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;

// (c) PyTorch eager on the same images.
const itemsFile = path.join(dir, 'items.json');
await writeFile(itemsFile, JSON.stringify(rows.map((r) => ({ path: path.join(synthetic.imageRoot, r.imageName), bbox: [r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax] }))));
const python = await findPython(process.env.FASHION_HOW_PYTHON);
const torchRun = spawnSync(python.executable, [new URL('./serve_torch.py', import.meta.url).pathname, path.dirname(artifact.onnxPath), itemsFile, String(best.batch)], { encoding: 'utf8' });
if (torchRun.status !== 0) throw new Error(torchRun.stderr);
const eager = JSON.parse(torchRun.stdout.trim().split('\n').pop()!) as { withPreprocessing: number; modelOnly: number };

console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; model ${backbone}+feedforward at ${size} px (${(artifact.sizeBytes / 1e6).toFixed(1)} MB ONNX)`);
console.log(`onnxruntime-node images/s by batch size: ${rates.join(', ')}`);
console.log('');
console.log('| path | images/s | p50 ms | p99 ms |');
console.log('|---|---:|---:|---:|');
console.log(`| (a) onnxruntime-node, pre-made tensors, batch ${best.batch} | ${best.rate.toFixed(1)} | | |`);
console.log(`| (a) + preprocessing (sharp decode, crop, letterbox) | ${withPreprocessing.toFixed(1)} | | |`);
console.log(`| (b) classify over HTTP + GraphQL, ${clients} clients, 1 JPEG per request | ${endToEnd.toFixed(1)} | ${pct(50).toFixed(1)} | ${pct(99).toFixed(1)} |`);
console.log(`| (c) PyTorch eager, PIL preprocessing + model, batch ${best.batch} | ${eager.withPreprocessing.toFixed(1)} | | |`);
console.log(`| (c) PyTorch eager, model only | ${eager.modelOnly.toFixed(1)} | | |`);
console.log('');
console.log(`(b) / (a with preprocessing) = ${(endToEnd / withPreprocessing).toFixed(2)} (target >= 0.8)`);
console.log(`(b) / (c with preprocessing) = ${(endToEnd / eager.withPreprocessing).toFixed(2)} (target >= 1.5)`);
await rm(dir, { recursive: true, force: true });
