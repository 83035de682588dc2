// Finds a Python interpreter that can run the training worker (torch + torchvision), because the
// `python3` first on PATH is often not the one that has them (Debian's torch lives in /usr/bin/python3).
import { execFile } from 'node:child_process';
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

async function probe(executable: string): Promise<PythonRuntime> {
  const { stdout } = await promisify(execFile)(executable, ['-c', PROBE, WORKER_DIR], {
    timeout: 120_000,
    env: { ...workerEnvironment(), PYTHONDONTWRITEBYTECODE: '1' },
  });
  return { executable, ...JSON.parse(stdout.trim().split('\n').pop()!) };
}

/** The first candidate that imports torch, torchvision and the worker's models module. */
export async function findPython(preferred?: string): Promise<PythonRuntime> {
  const candidates = preferred ? [preferred] : PYTHON_CANDIDATES;
  const tried: string[] = [];
  for (const candidate of candidates) {
    try {
      return await probe(candidate);
    } catch (error) {
      const { stderr, code } = error as { stderr?: string; code?: string | number };
      const reason = code === 'ENOENT' ? 'not found' : (stderr ?? '').trim().split('\n').pop() || String((error as Error).message);
      tried.push(`${candidate}: ${reason}`);
    }
  }
  throw new PythonUnavailableError(tried);
}
