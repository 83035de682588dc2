// Import benchmark: a 14,000-row synthetic Fashion-How dataset (the real training set's size) imported
// into a fresh SQLite file, next to a baseline in the same process: decoding every image once with
// the same concurrency and nothing else. The ratio is the cost of everything the import adds
// (CSV parsing, path checks, hashing, bbox and label checks, the split, the photos into the store, the
// transaction). Then the same folder as an upload: packed into a .tar as the SDK and CLI do, and
// imported from the archive (checked, unpacked into scratch, validated, stored) in this process.
//   npm run bench:import -- [--count 14000] [--min-side 240] [--max-side 480] [--keep DIR]

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { openApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { inspectImage } from '../src/data/image.js';
import { importDataset } from '../src/data/import.js';
import { importArchive } from '../src/data/sources.js';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { archiveOf } from '../src/sdk/pack.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const count = arg('count', 14_000);
const minSide = arg('min-side', 240);
const maxSide = arg('max-side', 480);
const keepIndex = process.argv.indexOf('--keep');
const dir = keepIndex > 0 ? process.argv[keepIndex + 1]! : await mkdtemp(path.join(os.tmpdir(), 'fashion-how-bench-'));

const config = loadConfig({ FASHION_HOW_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'silent' });
console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; import concurrency ${config.importConcurrency}`);

let t = performance.now();
const synthetic = await writeSyntheticDataset({ out: path.join(dir, 'synth'), count, seed: 1, minSide, maxSide });
console.log(`synthesised ${count} JPEGs (${minSide}-${maxSide} px sides) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

t = performance.now();
const limit = pLimit(config.importConcurrency);
await Promise.all(synthetic.rows.map((row) => limit(() => inspectImage(path.join(synthetic.imageRoot, row.imageName), config.imageLimits))));
const decodeSeconds = (performance.now() - t) / 1000;

await rm(config.dataDir, { recursive: true, force: true });
const app = await openApp(config);
t = performance.now();
const outcome = await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext);
const importSeconds = (performance.now() - t) / 1000;

t = performance.now();
const archive = await archiveOf(path.dirname(synthetic.csvPath));
const packSeconds = (performance.now() - t) / 1000;
t = performance.now();
// Another validation share, so that the content differs and is imported again rather than found.
const uploaded = await importArchive(archive.file, archive.name, { validationFraction: 0.2 }, app.services.importContext);
const uploadSeconds = (performance.now() - t) / 1000;
await archive.remove();
await app.close();

console.log('');
const rows = [
  ['baseline: decode every image once', decodeSeconds],
  ['import: validate + split + store', importSeconds],
  ['upload, client side: pack the folder into a .tar', packSeconds],
  ['upload, server side: check + unpack + validate + store', uploadSeconds],
] as const;
console.log('| step | seconds | rows/s |');
console.log('|---|---:|---:|');
for (const [step, seconds] of rows) console.log(`| ${step} | ${seconds.toFixed(1)} | ${Math.round(count / seconds)} |`);
console.log('');
console.log(`imported ${outcome.itemCount} rows in ${importSeconds.toFixed(1)} s; import / decode-only = ${(importSeconds / decodeSeconds).toFixed(2)}x`);
console.log(`uploaded ${uploaded.itemCount} rows: server side / local import = ${(uploadSeconds / importSeconds).toFixed(2)}x`);
if (keepIndex < 0) await rm(dir, { recursive: true, force: true });
