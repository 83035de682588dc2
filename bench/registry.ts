// What operating a model like a registry costs the answers: a `fashion-how serve` process answers 16
// closed-loop clients (one image per request, multipart, through an alias) for a while in each of these
// settings, side by side with the plain alias measured in the same run: the prediction log at a 10 %
// and a 100 % rate (and, on a second server with its own baseline, with crops kept), a shadow candidate,
// and a 50 % canary. It prints images/s, p50 / p99 latency, each as a ratio to the plain alias, what the
// log wrote, still held and dropped, and what the shadow scored and skipped.
//   npm run bench:registry [-- --seconds 15 --backbone resnet18 --size 224]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app.js';
import type { Bbox } from '../src/domain.js';
import type { AliasSettings } from '../src/inference/aliases.js';
import { arg, percentile, startServe, trainedModel } from './servedModel.js';

const seconds = Number(arg('seconds', '15'));
const backbone = arg('backbone', 'resnet18');
const size = Number(arg('size', '224'));
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-registry-'));
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' };
const { config, synthetic, artifact, tokens, files } = await trainedModel({
  dir,
  env,
  backbone,
  size,
  count: 96,
  seed: 5,
  tokenNames: Array.from({ length: 16 }, (_, i) => `registry ${i}`),
});
// A second copy of the model, as the candidate: its own session, the same work per image.
const admin = await openApp(config);
const { id: _id, runId: _run, modelInfo, quantization: _q, sessionTuning: _t, createdAt: _c, ...row } = artifact;
const candidate = await admin.services.db.modelArtifact.create({ data: { ...row, modelInfo: modelInfo as object, name: 'candidate (same graph)' } });

const QUERY = `query($input: ClassifyInput!) { classify(input: $input) { served { role } results { predictionId tasks { predicted { index } } } } }`;
function request(bbox: Bbox, image: Buffer): FormData {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: QUERY, variables: { input: { model: 'bench', images: [{ file: null, bbox }] } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.images.0.file'] }));
  form.set('0', new Blob([image]), 'image.jpg');
  return form;
}

async function measure(url: string) {
  let next = 0;
  const latencies: number[] = [];
  const run = async (until: number, keep: boolean) => {
    await Promise.all(
      tokens.map(async (token) => {
        while (performance.now() < until) {
          const i = next++ % files.length;
          const started = performance.now();
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` },
            body: request(synthetic.rows[i]!.bbox, files[i]!),
          });
          const answer = (await response.json()) as { errors?: unknown[] };
          if (answer.errors) throw new Error(JSON.stringify(answer.errors));
          if (keep) latencies.push(performance.now() - started);
        }
      }),
    );
  };
  // A fresh server's first seconds are slower (sessions' first runs, the allocator): a longer warm-up first.
  await run(performance.now() + (plain ? 3_000 : 10_000), false);
  const started = performance.now();
  await run(started + seconds * 1000, true);
  return { imagesPerSecond: latencies.length / ((performance.now() - started) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const base: AliasSettings = { target: { kind: 'artifact', id: artifact.id }, candidate: null, mode: 'NONE', canaryPercent: 0, logRate: 0 };
const settings: [string, AliasSettings][] = [
  ['plain alias', base],
  ['log 10 %', { ...base, logRate: 0.1 }],
  ['log 100 %', { ...base, logRate: 1 }],
  ['shadow (candidate scores every request)', { ...base, candidate: { kind: 'artifact', id: candidate.id }, mode: 'SHADOW' }],
  ['canary 50 %', { ...base, candidate: { kind: 'artifact', id: candidate.id }, mode: 'CANARY', canaryPercent: 50 }],
  ['plain alias again (drift of the machine)', base],
];

const rows: string[] = [];
let plain: Awaited<ReturnType<typeof measure>> | undefined;
async function serveAndMeasure(extraEnv: Record<string, string>, list: [string, AliasSettings][]) {
  const server = await startServe({ ...env, ...extraEnv });
  for (const [label, setting] of list) {
    await admin.services.aliases.set('bench', setting, 'bench');
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // the server re-reads aliases within 2 s
    // Both models loaded before the clock starts: the Open Inference Protocol's model readiness says so.
    for (const id of [artifact.id, candidate.id]) {
      const ready = () => fetch(server.url.replace(/\/graphql$/, `/v2/models/artifact-${id}/ready`), { headers: { authorization: `Bearer ${tokens[0]}` } });
      while ((await ready()).status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const before = await server.metrics();
    const figures = await measure(server.url);
    const after = await server.metrics();
    plain ??= figures;
    const counted = (name: string) => {
      const read = (m: typeof before) => {
        const value = m(name);
        return Number.isNaN(value) ? 0 : value;
      };
      return read(after) - read(before);
    };
    const logged = (outcome: string) => counted(`prediction_log_records_total{alias="bench",outcome="${outcome}"}`);
    // What the writer still held when the window closed: the server's own count, over GraphQL.
    const status = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` },
      body: JSON.stringify({ query: '{ predictionLog { queued } }' }),
    });
    const queued = ((await status.json()) as { data: { predictionLog: { queued: number } } }).data.predictionLog.queued;
    const shadow =
      setting.mode === 'SHADOW'
        ? `${counted('alias_images_total{alias="bench",role="SHADOW"}')} / ${counted('shadow_skipped_total{alias="bench",reason="busy"}')}`
        : '-';
    rows.push(
      `| ${label} | ${figures.imagesPerSecond.toFixed(1)} | ${(figures.imagesPerSecond / plain.imagesPerSecond).toFixed(2)} | ${figures.p50.toFixed(0)} | ${figures.p99.toFixed(0)} | ${(figures.p99 / plain.p99).toFixed(2)} | ${logged('logged')} | ${queued} | ${logged('dropped')} / ${logged('failed')} | ${shadow} |`,
    );
    console.error(rows.at(-1));
  }
  await server.stop();
}

await serveAndMeasure({}, settings);
// A second server keeps crops: its own plain alias first, as its baseline.
plain = undefined;
await serveAndMeasure({ FASHION_HOW_PREDICTION_LOG_CROPS: 'true' }, [
  ['plain alias (crops-kept server)', base],
  ['log 100 %, crops kept', { ...base, logRate: 1 }],
]);
await admin.close();

console.log(
  `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; ${backbone}+feedforward at ${size} px; 16 clients, one image per request, ${seconds} s each`,
);
console.log('');
console.log(
  '| alias setting | images/s | vs plain | p50 ms | p99 ms | p99 vs plain | log written | log queued at the end | log dropped / failed | shadow scored / skipped |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
await rm(dir, { recursive: true, force: true });
