// `npm run bench:train [-- --backbone resnet18 --size 224 ...]`: makes a synthetic dataset (once) and runs
// bench/train_throughput.py with the interpreter training uses. Extra arguments go to the Python script.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { writeSyntheticDataset } from '../src/data/synth.js';
import { findPython } from '../src/training/python.js';

const out = path.resolve('data', 'bench-train');
if (!existsSync(path.join(out, 'train.csv'))) {
  await writeSyntheticDataset({ out, count: 600, seed: 3, minSide: 200, maxSide: 400 });
}
const python = await findPython(process.env.FASHION_HOW_PYTHON);
const script = new URL('./train_throughput.py', import.meta.url).pathname;
const args = [script, '--csv', path.join(out, 'train.csv'), '--images', path.join(out, 'images'), ...process.argv.slice(2)];
process.exitCode = spawnSync(python.executable, args, { stdio: 'inherit' }).status ?? 1;
