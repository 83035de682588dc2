// Hostile floods against a `fashion-how serve` process (issue 36): while each flood runs, another client
// classifies one image at a time, and its p50 is compared with its p50 without the flood. Windows with
// and without the flood alternate (3 rounds of 20 requests each way), so the machine's other load weighs
// on both sides alike; the flood's clients run in a process of their own (hostileFloods.ts), as other machines would. Also prints the server's resident memory before and after each flood, and what
// the flood's requests were answered.
//   npm run bench:hostile [-- --backbone resnet18 --size 112 --names 10000]

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FloodContext, floods } from './hostileFloods.js';
import { arg, multipartClassify, percentile, startServe, trainedModel } from './servedModel.js';

const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '112'));
const names = Number(arg('names', '10000'));
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-hostile-'));
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' };
const { synthetic, artifact, tokens, files } = await trainedModel({
  dir,
  env,
  backbone,
  size,
  count: 96,
  seed: 5,
  tokenNames: ['measured', 'flood 1', 'flood 2', 'flood 3', 'flood 4'],
});
const server = await startServe(env);
const { url } = server;
const base = url.replace(/\/graphql$/, '');
const [measuredToken, ...floodTokens] = tokens as [string, ...string[]];
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

// What the floods ask for: the run's report (its model card) and the dataset's items (photos, crops).
const report = (await (
  await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ reports { id } }' }) })
).json()) as { data: { reports: { id: string }[] } };
const reportId = report.data.reports[0]!.id;
const items = Array.from({ length: synthetic.rows.length }, (_, i) => i + 1);

async function classifyOnce(i: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'apollo-require-preflight': 'true', ...auth(measuredToken) },
    body: multipartClassify(artifact.id, synthetic.rows[i % files.length]!.bbox, files[i % files.length]!),
  });
  const answer = (await response.json()) as { errors?: unknown[] };
  if (answer.errors) throw new Error(`the measured client's classify failed: ${JSON.stringify(answer.errors)}`);
  return performance.now() - started;
}

const rssMiB = async () => (await server.metrics())('process_resident_memory_bytes') / 2 ** 20;

/** Starts a flood in a process of its own; stop() ends it and tells what its requests were answered. */
function flood(name: string, context: FloodContext) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./hostileFloods.ts', import.meta.url)), name, JSON.stringify(context)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    stop: async () => {
      child.stdin.write('stop\n');
      await exited;
      return JSON.parse(out || '{}') as Record<string, number>;
    },
  };
}

const context: FloodContext = { url, reportId, items, floodTokens };
for (let i = 0; i < 30; i++) await classifyOnce(i); // warm-up
console.log(`${backbone} at ${size} px, artifact ${artifact.id}; the measured client classifies one photo at a time (multipart)`);
console.log('| flood | classify p50 without | with the flood | ratio | RSS before -> after (MiB) | the flood was answered |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const name of Object.keys(floods(context))) {
  const quiet: number[] = [];
  const busy: number[] = [];
  const rssBefore = await rssMiB();
  const answers = new Map<string, number>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) quiet.push(await classifyOnce(i));
    const running = flood(name, context);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the process starts and the flood is under way
    for (let i = 0; i < 20; i++) busy.push(await classifyOnce(i));
    for (const [outcome, count] of Object.entries(await running.stop())) answers.set(outcome, (answers.get(outcome) ?? 0) + count);
  }
  const [p50quiet, p50busy] = [percentile(quiet, 50), percentile(busy, 50)];
  const told = [...answers].map(([outcome, count]) => `${count} x ${outcome}`).join(', ');
  console.log(
    `| ${name} | ${p50quiet.toFixed(1)} ms | ${p50busy.toFixed(1)} ms | ${(p50busy / p50quiet).toFixed(2)} | ${rssBefore.toFixed(0)} -> ${(await rssMiB()).toFixed(0)} | ${told} |`,
  );
}

// Made-up operation names: the metrics' series stay a bounded set.
const metricsBytes = async () => (await (await fetch(`${base}/metrics`)).text()).length;
const before = await metricsBytes();
for (let at = 0; at < names; at += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, names - at) }, (_, i) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `query Made${at + i} { health { ok } }` }) }),
    ),
  );
}
const text = await (await fetch(`${base}/metrics`)).text();
const labels = new Set([...text.matchAll(/fashion_how_graphql_requests_total\{operation="([^"]*)"/g)].map((m) => m[1]));
console.log(
  `\n${names} made-up operation names: /metrics ${before} -> ${text.length} bytes, operation labels: ${[...labels].join(', ')}; RSS ${(await rssMiB()).toFixed(0)} MiB`,
);

await server.stop();
await rm(dir, { recursive: true, force: true });
