// Finds a Python interpreter that can run the training worker (torch + torchvision), because the
// `python3` first on PATH is often not the one that has them (Debian's torch lives in /usr/bin/python3).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { workerEnvironment } from '../config.js';
import { PACKAGE_ROOT } from '../db/migrate.js';
import { AppError, ErrorCode } from '../errors.js';

export const WORKER_DIR = path.join(PACKAGE_ROOT, 'src', 'training', 'worker');

export interface PythonRuntime {
  executable: string;
  python: string;
  torch: string;
  torchvision: string;
  cudaDevices: number;
  onnx: boolean;
  onnxruntime: boolean;
  /** What the worker can build, from its backbone registry (backbones.py): the single source of these names. */
  backbones: string[];
  heads: string[];
  /** Each registered backbone's facts, as backbones.describe() gives them. */
  registry: BackboneFacts[];
}

export interface BackboneFacts {
  name: string;
  family: string;
  stem: 'imagenet' | 'small';
  defaultImageSize: number;
  imagenetWeights: boolean;
  parametersMillions: number;
}

const PROBE = `
import importlib.util, json, platform, sys
sys.path.insert(0, sys.argv[1])
import torch, torchvision, models, backbones
print(json.dumps({
  "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
  "cudaDevices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
  "onnx": importlib.util.find_spec("onnx") is not None, "onnxruntime": importlib.util.find_spec("onnxruntime") is not None,
  "backbones": list(models.BACKBONES), "heads": list(models.HEADS), "registry": backbones.describe()}))
`;

export const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3', 'python'];

export class PythonUnavailableError extends AppError {
  constructor(tried: string[]) {
    super(
      ErrorCode.UNAVAILABLE,
      `training needs a Python interpreter that can import torch and torchvision, and none was found (tried ${tried.join('; ')}). ` +
        'Install them with `sudo apt-get install python3-torch python3-torchvision python3-onnx` (Debian/Ubuntu) or ' +
        '`pip install torch torchvision onnx`, or set FASHION_HOW_PYTHON to an interpreter that has them.',
    );
  }
}

/** What the probe's answer depends on, read without importing torch (tens of milliseconds, where the probe
 *  takes seconds): the interpreter, its search path, and the files torch, torchvision, onnx and onnxruntime
 *  would be imported from, with their sizes and modification times (an upgrade or a reinstall changes them). */
const FINGERPRINT = `
import importlib.util, json, os, sys
def stat(p):
    s = os.stat(p)
    return [p, s.st_size, s.st_mtime_ns]
packages = {}
for name in ("torch", "torchvision", "onnx", "onnxruntime"):
    spec = importlib.util.find_spec(name)
    packages[name] = stat(spec.origin) if spec is not None and spec.origin else None
print(json.dumps({"executable": stat(os.path.realpath(sys.executable)), "version": sys.version, "path": sys.path, "packages": packages}))
`;

const run = (executable: string, args: string[]) =>
  promisify(execFile)(executable, args, { timeout: 120_000, env: { ...workerEnvironment(), PYTHONDONTWRITEBYTECODE: '1' } });

async function probe(executable: string): Promise<PythonRuntime> {
  const { stdout } = await run(executable, ['-c', PROBE, WORKER_DIR]);
  return { executable, ...JSON.parse(stdout.trim().split('\n').pop()!) };
}

let workerSources: string | undefined;
/** The worker's own files (its registry of backbones and heads is part of the answer), hashed once per process. */
function workerSourcesHash(): string {
  if (workerSources === undefined) {
    const hash = createHash('sha256');
    for (const name of readdirSync(WORKER_DIR)
      .filter((n) => n.endsWith('.py') || n.endsWith('.json'))
      .sort()) {
      hash
        .update(name)
        .update('\0')
        .update(readFileSync(path.join(WORKER_DIR, name)))
        .update('\0');
    }
    workerSources = hash.digest('hex');
  }
  return workerSources;
}

/** CUDA devices come and go without any file above changing: the device nodes the driver made are part of the key. */
function gpuDeviceNodes(): string[] {
  try {
    return readdirSync('/dev').filter((name) => /^nvidia\d+$/.test(name));
  } catch {
    return [];
  }
}

/** The probe's answer for `executable`, kept in `cacheDir` under a key of everything it depends on: the
 *  interpreter as named (and, for a path, its file), the fingerprint above, the worker's files, the
 *  environment the worker gets and the GPU device nodes. A changed key probes again; so does an entry that
 *  cannot be read. The interpreter that answered the fingerprint is the one used, never a path from the file. */
async function cachedProbe(executable: string, cacheDir: string): Promise<PythonRuntime> {
  const fingerprint = (await run(executable, ['-c', FINGERPRINT])).stdout;
  const file = path.isAbsolute(executable) ? await stat(executable) : null;
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        executable,
        file: file && [file.size, file.mtimeMs, file.ino],
        fingerprint,
        worker: workerSourcesHash(),
        env: Object.entries(workerEnvironment()).sort(),
        gpus: gpuDeviceNodes(),
      }),
    )
    .digest('hex');
  const entry = path.join(cacheDir, `runtime-${key.slice(0, 40)}.json`);
  // Missing, or not an answer (damaged, or of another format): probed again below.
  const kept = await readFile(entry, 'utf8')
    .then((text) => JSON.parse(text) as Omit<PythonRuntime, 'executable'>)
    .catch(() => null);
  if (kept && typeof kept.torch === 'string' && Array.isArray(kept.backbones) && Array.isArray(kept.registry)) return { ...kept, executable };
  const runtime = await probe(executable);
  // Written whole or not at all (a rename), so a reader in another process never sees half an entry. A
  // folder that cannot be written (read-only, full) costs the next start a probe, nothing more.
  const partial = `${entry}.${process.pid}.part`;
  const { executable: _, ...answer } = runtime;
  await mkdir(cacheDir, { recursive: true })
    .then(() => writeFile(partial, JSON.stringify(answer)))
    .then(() => rename(partial, entry))
    .catch(() => rm(partial, { force: true }).catch(() => undefined));
  return runtime;
}

/** The first candidate that imports torch, torchvision and the worker's models module. With `cacheDir`,
 *  what a probe found is kept there and used again while nothing it depends on changed (cachedProbe). */
export async function findPython(preferred?: string, cacheDir?: string): Promise<PythonRuntime> {
  const candidates = preferred ? [preferred] : PYTHON_CANDIDATES;
  const tried: string[] = [];
  for (const candidate of candidates) {
    try {
      return await (cacheDir ? cachedProbe(candidate, cacheDir) : probe(candidate));
    } catch (error) {
      const { stderr, code } = error as { stderr?: string; code?: string | number };
      const reason = code === 'ENOENT' ? 'not found' : (stderr ?? '').trim().split('\n').pop() || String((error as Error).message);
      tried.push(`${candidate}: ${reason}`);
    }
  }
  throw new PythonUnavailableError(tried);
}
