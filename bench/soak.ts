// Soak: a `fashion-how serve` process held at twice its capacity for a while (10 minutes by default).
// First its capacity is measured (16 closed-loop clients, one image per request); then requests arrive
// open-loop (Poisson) at twice that rate from 8 client tokens, as multipart uploads. Every minute it
// prints what was sent, admitted and refused (OVERLOADED / RATE_LIMITED: the server's answer to too
// much), the admitted requests' p50 / p99, and the server's resident memory, open file descriptors and
// active handles from its /metrics. Pass when memory stays flat, p99 stays bounded and nothing leaks.
//   npm run bench:soak [-- --minutes 10 --backbone resnet18 --size 224]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { arg, multipartClassify, percentile, startServe, trainedModel } from './servedModel.js';

const minutes = Number(arg('minutes', '10'));
const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '224'));
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-soak-'));
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' };
const { synthetic, artifact, tokens, files } = await trainedModel({
  dir,
  env,
  backbone,
  size,
  count: 128,
  seed: 4,
  tokenNames: Array.from({ length: 8 }, (_, i) => `soak ${i}`),
});
const server = await startServe(env);
const { url } = server;

type Outcome = { kind: 'ok' | 'refused' | 'error'; ms: number; code?: string };
async function call(i: number): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${tokens[i % tokens.length]}` },
      body: multipartClassify(artifact.id, synthetic.rows[i % files.length]!.bbox, files[i % files.length]!),
      signal: AbortSignal.timeout(60_000),
    });
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
  const value = await server.metrics();
  return { rssMB: value('process_resident_memory_bytes') / 2 ** 20, fds: value('process_open_fds'), handles: value('nodejs_active_handles_total') };
}

// Capacity: 16 closed-loop clients for 20 s (after a warm-up).
for (let i = 0; i < 32; i++) await call(i);
let next = 0;
let served = 0;
const capacityUntil = performance.now() + 20_000;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (performance.now() < capacityUntil) if ((await call(next++)).kind === 'ok') served++;
  }),
);
const capacity = served / 20;
const rate = 2 * capacity;
const start = await serverMetrics();
console.log(
  `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${backbone}+feedforward at ${size} px; capacity ${capacity.toFixed(1)} images/s, offered ${rate.toFixed(1)} requests/s (one image each) for ${minutes} min`,
);
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
  console.log(
    `| ${minute} | ${outcomes.length} | ${admitted.length} | ${outcomes.filter((o) => o.kind === 'refused').length} | ${outcomes.filter((o) => o.kind === 'error').length} | ${percentile(admitted, 50).toFixed(0)} | ${p99.toFixed(0)} | ${metrics.rssMB.toFixed(0)} | ${metrics.fds} | ${metrics.handles} |`,
  );
}
await Promise.all(inFlight);
// Idle keep-alive connections close after about a minute (the server keeps them 65 s, the client one
// second less): what is left after that leaked.
await new Promise((resolve) => setTimeout(resolve, 70_000));
const end = await serverMetrics();
const firstRss = minutesRows[0]!.rssMB;
const rssValues = minutesRows.map((m) => m.rssMB);
console.log('');
console.log(
  `resident memory: ${firstRss.toFixed(0)} MB after minute 1, ${rssValues.at(-1)!.toFixed(0)} MB after minute ${minutes} (max ${Math.max(...rssValues).toFixed(0)}, ${(((rssValues.at(-1)! - firstRss) / firstRss) * 100).toFixed(1)} % from minute 1 to the end)`,
);
console.log(`admitted p99 per minute: ${Math.min(...minutesRows.map((m) => m.p99)).toFixed(0)}-${Math.max(...minutesRows.map((m) => m.p99)).toFixed(0)} ms`);
console.log(`errors by code: ${[...errorCodes].map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}`);
console.log(`after the load: ${end.fds} open fds (${start.fds} at start), ${end.handles} active handles (${start.handles} at start)`);
await server.stop();
await rm(dir, { recursive: true, force: true });
