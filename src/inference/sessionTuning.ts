// ONNX Runtime session options chosen by measurement, per model and per host: the fastest options
// for a ResNet's fp32 graph are not those of its INT8 child, nor those of the same graph on a machine
// with twice the cores. A coordinate search from the defaults: each option's alternatives are timed in
// turn and a change is kept only when it is faster by more than this machine's noise.
import os from 'node:os';
import type { SessionTuning } from '../config.js';
import { openSession } from './onnx.js';

/** A change must beat the best so far by this factor to be kept (repeated timings here move by ~2 %). */
const MARGIN = 1.03;
/** Each candidate runs batches for at least this long. */
const MEASURE_MS = 700;

export interface TuningResult {
  host: string;
  options: SessionTuning;
  batch: number;
  imagesPerSecond: number;
  /** The defaults' rate in the same search. */
  defaultImagesPerSecond: number;
  tried: { options: SessionTuning; imagesPerSecond: number }[];
  measuredAt: string;
}

/** What makes one host's tuning another's: its core count and CPU model. */
export function hostKey(): string {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}`;
}

const DEFAULTS: Required<SessionTuning> = {
  intraOpThreads: 0,
  graphOptimization: 'all',
  executionMode: 'sequential',
  memoryArena: true,
  memoryPattern: true,
  lanes: 1,
};

export async function tuneSession(onnxPath: string, size: number, batch = 16): Promise<TuningResult> {
  const input = new Float32Array(batch * 3 * size * size).map(() => Math.random() * 2 - 1);
  const tried: TuningResult['tried'] = [];
  const measure = async (options: SessionTuning) => {
    const session = await openSession(onnxPath, { ...options, preferCuda: false });
    try {
      // One batch in flight per lane, as a loaded server keeps them.
      const inFlight = Array.from({ length: session.lanes });
      await Promise.all(inFlight.map(() => session.run(input, batch, size)));
      await Promise.all(inFlight.map(() => session.run(input, batch, size)));
      const started = performance.now();
      let runs = 0;
      await Promise.all(
        inFlight.map(async () => {
          while (performance.now() - started < MEASURE_MS) {
            await session.run(input, batch, size);
            runs++;
          }
        }),
      );
      const rate = (runs * batch) / ((performance.now() - started) / 1000);
      tried.push({ options, imagesPerSecond: rate });
      return rate;
    } finally {
      await session.release();
    }
  };
  const cores = os.cpus().length;
  const alternatives: { [K in keyof SessionTuning]-?: SessionTuning[K][] } = {
    intraOpThreads: [...new Set([cores, Math.max(1, Math.floor(cores / 2))])],
    graphOptimization: ['extended'],
    executionMode: ['parallel'],
    memoryArena: [false],
    memoryPattern: [false],
    // Copies of the session side by side (see onnx.ts).
    lanes: cores > 1 ? [...new Set([cores, Math.max(2, Math.floor(cores / 2))])] : [],
  };
  let best: SessionTuning = { ...DEFAULTS };
  const defaultRate = await measure(best);
  let bestRate = defaultRate;
  for (const key of Object.keys(alternatives) as (keyof SessionTuning)[]) {
    for (const value of alternatives[key]) {
      // Lanes bring their own threads per operator: each copy's share of the cores (openSession's rule).
      const candidate = key === 'lanes' ? { ...best, lanes: value as number, intraOpThreads: 0 } : { ...best, [key]: value };
      const rate = await measure(candidate);
      if (rate > bestRate * MARGIN) {
        best = candidate;
        bestRate = rate;
      }
    }
  }
  return { host: hostKey(), options: best, batch, imagesPerSecond: bestRate, defaultImagesPerSecond: defaultRate, tried, measuredAt: new Date().toISOString() };
}
