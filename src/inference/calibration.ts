// Activation ranges for post-training INT8: the planned tensors of a graph, observed through ONNX
// Runtime on images that went through the serving preprocessing (calibrate.onnx is the fp32 graph with
// each tensor as an extra output, written by worker/quantize.py plan).
//   MINMAX      the observed low and high.
//   PERCENTILE  the 0.01 % and 99.99 % points of each tensor's values (a second pass over the same
//               images into a 2048-bin histogram between the observed low and high): a few outliers
//               no longer stretch the uint8 grid over values that almost never occur.
import { openSession } from './onnx.js';

export type CalibrationMethod = 'MINMAX' | 'PERCENTILE';

export const PERCENTILE = 99.99;
const BINS = 2048;
/** Images per calibration run: every planned tensor of a batch is held at once. */
const BATCH = 4;

export interface CalibrationInput {
  /** The graph with the planned tensors as outputs. */
  graph: string;
  tensors: string[];
  size: number;
  /** NCHW float32 tensors of single images, already preprocessed. */
  images: Float32Array[];
  method: CalibrationMethod;
  intraOpThreads?: number;
}

/** [low, high] per tensor. */
export type Ranges = Record<string, [number, number]>;

export async function calibrate(input: CalibrationInput): Promise<Ranges> {
  const session = await openSession(input.graph, { intraOpThreads: input.intraOpThreads, preferCuda: false });
  try {
    const batches = async (visit: (outputs: Record<string, Float32Array>) => void) => {
      const row = 3 * input.size * input.size;
      for (let start = 0; start < input.images.length; start += BATCH) {
        const chunk = input.images.slice(start, start + BATCH);
        const batch = new Float32Array(chunk.length * row);
        chunk.forEach((image, i) => {
          batch.set(image, i * row);
        });
        visit(await session.run(batch, chunk.length, input.size));
      }
    };
    const observed: Ranges = Object.fromEntries(input.tensors.map((t) => [t, [Infinity, -Infinity]]));
    await batches((outputs) => {
      for (const name of input.tensors) {
        const values = outputs[name];
        if (!values) throw new Error(`the calibration graph has no output "${name}"`);
        const range = observed[name]!;
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          if (v < range[0]) range[0] = v;
          if (v > range[1]) range[1] = v;
        }
      }
    });
    if (input.method === 'MINMAX') return observed;
    const histograms = Object.fromEntries(input.tensors.map((t) => [t, new Float64Array(BINS)]));
    await batches((outputs) => {
      for (const name of input.tensors) {
        const [low, high] = observed[name]!;
        const width = (high - low) / BINS || 1;
        const counts = histograms[name]!;
        const values = outputs[name]!;
        for (let i = 0; i < values.length; i++) counts[Math.min(BINS - 1, Math.floor((values[i]! - low) / width))]! += 1;
      }
    });
    return Object.fromEntries(input.tensors.map((name) => [name, percentileRange(histograms[name]!, observed[name]!, PERCENTILE)]));
  } finally {
    await session.release();
  }
}

/** The `percent` two-sided range of a histogram over [low, high]: a tensor that is never negative (a
 *  ReLU's) keeps its low end at its observed minimum. */
export function percentileRange(counts: Float64Array, [low, high]: [number, number], percent: number): [number, number] {
  const total = counts.reduce((a, b) => a + b, 0);
  const width = (high - low) / counts.length;
  const tail = (total * (100 - percent)) / 100;
  let seen = 0;
  let lowBin = 0;
  while (lowBin < counts.length - 1 && seen + counts[lowBin]! <= tail) seen += counts[lowBin++]!;
  seen = 0;
  let highBin = counts.length - 1;
  while (highBin > lowBin && seen + counts[highBin]! <= tail) seen += counts[highBin--]!;
  return [low >= 0 ? low : low + lowBin * width, Math.min(high, low + (highBin + 1) * width)];
}
