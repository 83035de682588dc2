// Soak: a `fashion-how serve` process held at twice its capacity for a while (10 minutes by default).
// First its capacity is measured (16 closed-loop clients, one image per request); then requests arrive
// open-loop (Poisson) at twice that rate from 8 client tokens, as multipart uploads. Every minute it
// prints what was sent, admitted and refused (OVERLOADED / RATE_LIMITED: the server's answer to too
// much), the admitted requests' p50 / p99, and the server's resident memory, open file descriptors and
// active handles from its /metrics. Pass when memory stays flat, p99 stays bounded and nothing leaks.
//   npm run bench:soak [-- --minutes 10 --backbone resnet18 --size 224]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { importDataset } from '../src/data/import.js';
import { writeSyntheticDataset } from '../src/data/synth.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const minutes = Number(arg('minutes', '10'));
const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '224'));
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-soak-'));
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' };

const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count: 128, seed: 4, minSide: 240, maxSide: 480 });
const app = await openApp(loadConfig(env));
const { datasetId } = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext);
const [run] = await app.services.training.startTraining({ datasetId, backbones: [backbone], heads: ['feedforward'], options: { epochs: 1, imageSize: size, batchSize: 8, maxStepsPerEpoch: 1, cutmix: 'off', dataLoaderWorkers: 0, bnCalibrationImages: 8 } });
await app.services.training.waitFor([run!.id]);
const artifact = await app.services.db.modelArtifact.findFirstOrThrow({ where: { runId: run!.id } });
const tokens = await Promise.all(Array.from({ length: 8 }, async (_, i) => (await app.services.tokens.create(`soak ${i}`, 'reader')).token));
await app.close();
const files = await Promise.all(synthetic.rows.map((r) => readFile(path.join(synthetic.imageRoot, r.imageName))));

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
const body = (i: number) => {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query, variables: { input: { artifactId: String(artifact.id), images: [{ file: null, bbox: synthetic.rows[i]!.bbox }] } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.images.0.file'] }));
  form.set('0', new Blob([files[i]!]), 'image.jpg');
  return form;
};

type Outcome = { kind: 'ok' | 'refused' | 'error'; ms: number; code?: string };
async function call(i: number): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${tokens[i % tokens.length]}` }, body: body(i % files.length), signal: AbortSignal.timeout(60_000) });
    const answer = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    const code = answer.errors?.[0]?.extensions?.code;
    const ms = performance.now() - started;
    if (!code) return { kind: 'ok', ms };
    return { kind: code === 'OVERLOADED' || code === 'RATE_LIMITED' ? 'refused' : 'error', ms, code };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { kind: 'error', ms: performance.now() - started, code: cause?.code ?? (error as Error).name };
  }
}

async function serverMetrics() {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  const value = (name: string) => Number(text.match(new RegExp(`^fashion_how_${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  return { rssMB: value('process_resident_memory_bytes') / 2 ** 20, fds: value('process_open_fds'), handles: value('nodejs_active_handles_total') };
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

// Capacity: 16 closed-loop clients for 20 s (after a warm-up).
for (let i = 0; i < 32; i++) await call(i);
let next = 0;
let served = 0;
const capacityUntil = performance.now() + 20_000;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (performance.now() < capacityUntil) if ((await call(next++)).kind === 'ok') served++;
}));
const capacity = served / 20;
const rate = 2 * capacity;
const start = await serverMetrics();
console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${backbone}+feedforward at ${size} px; capacity ${capacity.toFixed(1)} images/s, offered ${rate.toFixed(1)} requests/s (one image each) for ${minutes} min`);
console.log(`server at start: ${start.rssMB.toFixed(0)} MB resident, ${start.fds} open fds, ${start.handles} active handles`);
console.log('');
console.log('| minute | sent | admitted | refused | errors | admitted p50 ms | admitted p99 ms | resident MB | open fds | active handles |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');

// Open loop: Poisson arrivals at `rate`, whatever the server answers.
const minutesRows: { rssMB: number; p99: number }[] = [];
const errorCodes = new Map<string, number>();
const inFlight = new Set<Promise<void>>();
let sent = 0;
for (let minute = 1; minute <= minutes; minute++) {
  const outcomes: Outcome[] = [];
  const until = performance.now() + 60_000;
  let due = performance.now();
  while (performance.now() < until) {
    due += (-Math.log(1 - Math.random()) / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const request = call(sent++).then((o) => void outcomes.push(o));
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  const metrics = await serverMetrics();
  const admitted = outcomes.filter((o) => o.kind === 'ok').map((o) => o.ms);
  for (const o of outcomes) if (o.kind === 'error') errorCodes.set(o.code ?? '?', (errorCodes.get(o.code ?? '?') ?? 0) + 1);
  const p99 = percentile(admitted, 99);
  minutesRows.push({ rssMB: metrics.rssMB, p99 });
  console.log(`| ${minute} | ${outcomes.length} | ${admitted.length} | ${outcomes.filter((o) => o.kind === 'refused').length} | ${outcomes.filter((o) => o.kind === 'error').length} | ${percentile(admitted, 50).toFixed(0)} | ${p99.toFixed(0)} | ${metrics.rssMB.toFixed(0)} | ${metrics.fds} | ${metrics.handles} |`);
}
await Promise.all(inFlight);
// Idle keep-alive connections close after about a minute (the server keeps them 65 s, the client one
// second less): what is left after that leaked.
await new Promise((resolve) => setTimeout(resolve, 70_000));
const end = await serverMetrics();
const firstRss = minutesRows[0]!.rssMB;
const rssValues = minutesRows.map((m) => m.rssMB);
console.log('');
console.log(`resident memory: ${firstRss.toFixed(0)} MB after minute 1, ${rssValues.at(-1)!.toFixed(0)} MB after minute ${minutes} (max ${Math.max(...rssValues).toFixed(0)}, ${(((rssValues.at(-1)! - firstRss) / firstRss) * 100).toFixed(1)} % from minute 1 to the end)`);
console.log(`admitted p99 per minute: ${Math.min(...minutesRows.map((m) => m.p99)).toFixed(0)}-${Math.max(...minutesRows.map((m) => m.p99)).toFixed(0)} ms`);
console.log(`errors by code: ${[...errorCodes].map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`);
console.log(`after the load: ${end.fds} open fds (${start.fds} at start), ${end.handles} active handles (${start.handles} at start)`);
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
await rm(dir, { recursive: true, force: true });
