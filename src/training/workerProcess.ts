// Runs the Python training worker as a child process: config on stdin as JSON, events back as JSON
// lines, stderr kept (last lines) for the run's record. shell: false, its own process group so that
// cancelling also ends its DataLoader processes, SIGTERM then SIGKILL after a grace period.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { workerEnvironment } from '../config.js';
import { WORKER_DIR } from './python.js';

export interface TaskMetric {
  task: string;
  top1: number;
  acsa: number;
}

/** What preparing the pixel cache did for a run (cache.py's summary). */
export interface ImageCacheUse {
  spec: string;
  items: number;
  /** Images decoded and letterboxed for this run; the rest were already in the cache. */
  built: number;
  reused: number;
  /** Rows found damaged (a truncated file) and rebuilt. */
  lostRows: number;
  seconds: number;
  waitedSeconds: number;
  imagesPerSecond: number | null;
  /** Size of the spec's pixel file on disk. */
  bytes: number;
}

/** Where a backbone's starting weights came from (weights.py's record). */
export interface WeightsRecord {
  source: 'imagenet' | 'file';
  file: string;
  sha256: string;
  downloaded: boolean;
}

export type WorkerEvent =
  | { event: 'downloading'; file: string; done: number; total: number | null }
  | { event: 'preparing'; done: number; total: number | null; waiting?: boolean }
  | ({ event: 'cache' } & ImageCacheUse)
  | {
      event: 'started';
      device: string;
      parameterCount: number;
      pretrained: boolean;
      weightsSource: WeightsRecord | null;
      warnings: string[];
      stepsPerEpoch: number;
      totalSteps: number;
      resumedFromEpoch: number | null;
      torchVersion: string;
      mixedPrecision: string;
      channelsLast: boolean;
      compiled: boolean;
      dataLoaderWorkers: number;
      trainItems: number;
      trainExamples: number;
      validationItems: number;
      /** With a time budget: what the run measured and chose (budget_epochs in recipe.py). */
      budget: BudgetPlan | null;
    }
  | { event: 'progress'; epoch: number; step: number; totalSteps: number; loss: number; imagesPerSecond: number; lr: number }
  // A time budget re-planned after an epoch: the new plan and step count.
  | { event: 'progress'; epoch: number; step: number; totalSteps: number; budget: BudgetPlan }
  | { event: 'epoch'; epoch: number; trainLoss: number; validation: TaskMetric[]; seconds: number; best?: boolean; weights?: 'model' | 'ema' }
  | {
      event: 'artifact';
      onnxPath: string;
      modelJsonPath: string;
      predictionsPath: string;
      checkDir: string;
      sizeBytes: number;
      sha256: string;
      parameterCount: number;
      exportCheck: { items: number; maxAbsDiff: number | null };
      training?: TrainingSelection;
    }
  | { event: 'done' }
  | { event: 'error'; message: string };

/** What a time-budgeted run measured on its host and chose. */
export interface BudgetPlan {
  seconds: number;
  /** The side and batch the probe chose (budget.py's choose_side / choose_batch); absent on older runs. */
  imageSize?: number;
  sizes?: { size: number; secondsPerStep: number; epochs: number }[];
  sizeReason?: string;
  batchSize?: number;
  batchReason?: string;
  learningRate?: number;
  elapsedBeforeTraining: number;
  secondsPerStep: number;
  epochSeconds: number;
  /** Of an epoch, the calibration and validation passes (the deadline leaves time for the last ones). */
  sideSeconds: number;
  reserveSeconds: number;
  epochs: number;
  reason: string;
  /** After each epoch: the plan again from the median time of the epochs so far (the last re-plan). */
  replanned?: { afterEpoch: number; measuredEpochSeconds: number; epochs: number; reason: string };
}

/** How the artifact's weights were chosen: the best epoch by the selection metric, and why training stopped. */
export interface TrainingSelection {
  selectionMetric: 'MEAN_TOP1' | 'MEAN_ACSA';
  bestEpoch: number;
  bestScore: number | null;
  epochsRun: number;
  stopped: 'early' | 'budget' | 'pruned' | null;
  /** Which copy the artifact holds: the weights as trained, or their moving average (emaDecay); absent before averages existed. */
  weights?: 'model' | 'ema';
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why we stopped it, when we did. */
  stopReason: unknown;
  stderrTail: string;
}

export interface WorkerOptions {
  python: string;
  config: unknown;
  signal: AbortSignal;
  onSpawn(pid: number): void;
  onEvent(event: WorkerEvent): void;
  /** Variables added to the worker's environment (e.g. CUDA_VISIBLE_DEVICES for its GPU slot). */
  env?: Record<string, string>;
  stderrLines?: number;
  killGraceMs?: number;
}

const TRAIN_SCRIPT = path.join(WORKER_DIR, 'train.py');

export function runWorker(options: WorkerOptions): Promise<WorkerExit> {
  const { signal, stderrLines = 40, killGraceMs = 5000 } = options;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      resolve({ code: null, signal: null, stopReason: signal.reason, stderrTail: '' });
      return;
    }
    const child = spawn(options.python, ['-u', TRAIN_SCRIPT], {
      cwd: WORKER_DIR,
      shell: false,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...workerEnvironment(), ...options.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    const tail: string[] = [];
    let stopReason: unknown;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const onAbort = () => {
      stopReason = signal.reason;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), killGraceMs);
    };
    signal.addEventListener('abort', onAbort, { once: true });

    child.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('spawn', () => {
      options.onSpawn(child.pid!);
      child.stdin.end(JSON.stringify(options.config));
    });
    child.stdin.on('error', () => undefined); // a worker that dies at once closes stdin early

    createInterface({ input: child.stderr }).on('line', (line) => {
      tail.push(line);
      if (tail.length > stderrLines) tail.shift();
    });
    const events = createInterface({ input: child.stdout });
    events.on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        tail.push(line);
        return;
      }
      if (parsed && typeof parsed === 'object' && 'event' in parsed) options.onEvent(parsed as WorkerEvent);
    });
    const stdoutClosed = new Promise<void>((done) => events.once('close', done));

    child.once('close', async (code, sig) => {
      await stdoutClosed;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      killGroup('SIGKILL'); // DataLoader workers the worker left behind
      resolve({ code, signal: sig, stopReason, stderrTail: tail.join('\n') });
    });
  });
}
