// The proof of a submission package: the packaged predictor's answers (run in a clean Python process)
// against the server's, twice, and both must agree: same argmax everywhere, probabilities within 1e-4.
// On the same pixels (the predictor's own letterboxed crops, scored by the server through its ONNX
// Runtime session) this covers the packaged graph, normalisation, test-time flip and softmax. On the
// original photos, each side preprocessing its own way, it covers the preprocessing too: the package
// decodes with Pillow and resizes with vips_resample.py, a port of libvips' resize that gives the
// server's bytes. Where they part (a photo with a colour profile or transparency, see the package's
// README) the check fails and says so. CPU time per image is judged against the season's limit.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { preprocess } from '../data/image.js';
import type { ClassifyService, TaskResult } from '../inference/classify.js';
import { type ModelInfo, preprocessSpecOf } from '../inference/registry.js';
import type { SeasonProfile } from './profiles.js';

/** Largest probability difference the package may show against the server on the same pixels. */
export const PROBABILITY_TOLERANCE = 1e-4;

/** One line of the predictor's --details output. */
export interface PredictorRecord {
  index: number;
  image_name: string;
  probabilities: number[][];
  cpuMs: number;
  backend: string;
}

export interface Agreement {
  /** Items whose argmax matches on every task. */
  argmaxAgree: number;
  /** Largest |package - server| over every probability. */
  maxDiff: number;
  /** (sample index, task) pairs whose argmax differs. */
  disagreements: { index: number; task: string }[];
}

export interface PackageCheck {
  items: number;
  /** What ran the graph in the predictor: onnxruntime, or torch (onnx_torch.py). */
  backend: string;
  tolerance: number;
  /** Same pixels: must agree. */
  graph: Agreement;
  /** Original photos, each side preprocessing its own way: must agree too. */
  endToEnd: Agreement;
  cpuMs: { mean: number; max: number; limitMs: number | null; withinLimit: boolean };
  /** Graph and end-to-end agreement within the tolerance and CPU time within the season's limit. */
  passed: boolean;
}

/** Same argmax on every item and task, every probability within PROBABILITY_TOLERANCE. */
export function agrees(found: Agreement, items: number): boolean {
  return found.argmaxAgree === items && found.maxDiff <= PROBABILITY_TOLERANCE;
}

export function agreement(packageAnswers: number[][][], serverAnswers: Pick<TaskResult, 'task' | 'probabilities'>[][]): Agreement {
  let maxDiff = 0;
  let argmaxAgree = 0;
  const disagreements: Agreement['disagreements'] = [];
  const argmax = (p: number[]) => p.reduce((best, v, k) => (v > p[best]! ? k : best), 0);
  packageAnswers.forEach((tasks, i) => {
    let agrees = true;
    tasks.forEach((probabilities, t) => {
      const server = serverAnswers[i]![t]!;
      probabilities.forEach((p, k) => {
        maxDiff = Math.max(maxDiff, Math.abs(p - server.probabilities[k]!));
      });
      if (argmax(probabilities) !== argmax(server.probabilities)) {
        agrees = false;
        disagreements.push({ index: i, task: server.task });
      }
    });
    if (agrees) argmaxAgree += 1;
  });
  return { argmaxAgree, maxDiff, disagreements };
}

export async function comparePackage(input: {
  classify: ClassifyService;
  artifactId: number;
  info: ModelInfo;
  profile: SeasonProfile;
  records: PredictorRecord[];
  /** The server's answers on the original photos, in the sample's order. */
  server: Pick<TaskResult, 'task' | 'probabilities'>[][];
  /** The predictor's letterboxed crops, <index>.png. */
  pixelsDir: string;
}): Promise<PackageCheck> {
  const { records, info } = input;
  const spec = preprocessSpecOf(info.input);
  const side = spec.size;
  // A crop already at the model's side goes through the server's preprocessing unresampled: the server
  // scores exactly the predictor's pixels.
  const fullFrame = { xmin: 0, ymin: 0, xmax: side, ymax: side };
  const limits = { maxPixels: side * side, maxBytes: 64 * 1024 * 1024 };
  const onSamePixels: TaskResult[][] = [];
  const chunk = 16;
  for (let start = 0; start < records.length; start += chunk) {
    const part = records.slice(start, start + chunk);
    const data = new Float32Array(part.length * 3 * side * side);
    for (const [k, record] of part.entries()) {
      const png = await readFile(path.join(input.pixelsDir, `${record.index}.png`));
      data.set((await preprocess(png, fullFrame, spec, limits)).tensor, k * 3 * side * side);
    }
    const outcome = await input.classify.scoreTensors({ artifactId: input.artifactId, client: 'submission check' }, data, [part.length, 3, side, side]);
    onSamePixels.push(...outcome.results);
  }
  const answers = records.map((r) => r.probabilities);
  const graph = agreement(answers, onSamePixels);
  const endToEnd = agreement(answers, input.server);
  const times = records.map((r) => r.cpuMs);
  const limitMs = input.profile.latencyLimitMs;
  const max = Math.max(...times);
  const cpuMs = { mean: times.reduce((a, b) => a + b, 0) / times.length, max, limitMs, withinLimit: limitMs === null || max <= limitMs };
  return {
    items: records.length,
    backend: records[0]?.backend ?? 'unknown',
    tolerance: PROBABILITY_TOLERANCE,
    graph,
    endToEnd,
    cpuMs,
    passed: agrees(graph, records.length) && agrees(endToEnd, records.length) && cpuMs.withinLimit,
  };
}
