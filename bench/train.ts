// `npm run bench:train [-- --backbone resnet18 --size 64 ...]`: runs bench/train_throughput.py (which
// generates its own images) with the interpreter training uses. Arguments go to the Python script.
import { spawnSync } from 'node:child_process';
import { findPython } from '../src/training/python.js';

const python = await findPython(process.env.FASHION_HOW_PYTHON);
const script = new URL('./train_throughput.py', import.meta.url).pathname;
process.exitCode = spawnSync(python.executable, [script, ...process.argv.slice(2)], { stdio: 'inherit' }).status ?? 1;
