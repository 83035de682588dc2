// Synthetic Fashion-How datasets for tests, demos and benchmarks when the real data is absent.
// Each task leaves its own visual trace inside the bbox, so a model can learn all three:
//   Daily -> the garment's hue, Gender -> its stripe pattern, Embellishment -> how many dots it wears.
// Outside the bbox, clutter is drawn from the same hues and patterns, so only the item is informative.
// Class frequencies follow the seed's imbalance: one Daily class about half the data, the rarest < 5%.
// These standard images are learnt perfectly; `difficulty: 'realistic'` (synthRealistic.ts) draws a
// benchmark that does not saturate, with label noise at a stated rate and the ceiling that noise sets;
// `'silhouette'` (synthSilhouette.ts) a second such benchmark built differently (shape and fine texture).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import pLimit from 'p-limit';
import seedrandom from 'seedrandom';
import type { Bbox } from '../domain.js';
import { badInput } from '../errors.js';
import { encodeJpeg } from './image.js';
import { DEFAULT_LABEL_SCHEMA } from './labelSchema.js';
import { between, Canvas, hsl, type Rgb, type Rng, randomBox } from './synthCanvas.js';
import { drawRealistic, type NoiseCeiling, noiseCeiling, noisyLabels } from './synthRealistic.js';
import { drawSilhouette } from './synthSilhouette.js';

/** Class priors per task of the default schema (Daily 7, Gender 6, Embellishment 3). */
export const SYNTH_CLASS_PRIORS: readonly (readonly number[])[] = [
  [0.08, 0.5, 0.12, 0.06, 0.1, 0.03, 0.11],
  [0.05, 0.15, 0.3, 0.25, 0.17, 0.08],
  [0.55, 0.35, 0.1],
];

/** Subfolders with spaces, as in the real data ("2pants 2019/990_W06.jpg"). */
const FOLDERS = ['1top 2019', '2pants 2019', '3outer 2020', '4dress 2020'];

export const CSV_HEADER = ['image_name', 'BBox_xmin', 'BBox_ymin', 'BBox_xmax', 'BBox_ymax', ...DEFAULT_LABEL_SCHEMA.tasks.map((t) => t.column)];

export interface SynthOptions {
  out: string;
  count: number;
  seed: number;
  /** Image sides are drawn from [minSide, maxSide]. */
  minSide?: number;
  maxSide?: number;
  quality?: number;
  /** standard: learnable to 1.0; realistic: confusable classes, clutter, occlusion, bbox jitter;
   *  silhouette: the same difficulty built another way (classes in shape and fine texture, not colour). */
  difficulty?: SynthDifficulty;
  /** Share of labels per task replaced by a confusable neighbour (default 0.08 realistic, 0 standard). */
  labelNoise?: number;
  onProgress?: (done: number, total: number) => void;
}

export const SYNTH_DIFFICULTIES = ['standard', 'realistic', 'silhouette'] as const;
export type SynthDifficulty = (typeof SYNTH_DIFFICULTIES)[number];
export const DEFAULT_REALISTIC_LABEL_NOISE = 0.08;

export interface SynthRow {
  imageName: string;
  bbox: Bbox;
  /** The labels written to the CSV (after label noise). */
  labels: number[];
  /** The classes the image was drawn from. */
  cleanLabels: number[];
}

export interface SynthResult {
  csvPath: string;
  imageRoot: string;
  rows: SynthRow[];
  difficulty: SynthDifficulty;
  labelNoise: number;
  /** The best top-1 and ACSA per task that any model can reach given the label noise. */
  ceiling: NoiseCeiling[];
}

function sampleClass(rng: Rng, priors: readonly number[]): number {
  let u = rng();
  for (let k = 0; k < priors.length; k++) {
    u -= priors[k]!;
    if (u < 0) return k;
  }
  return priors.length - 1;
}

/** Daily class k has hue k/7; the item's lightness jitters so hue, not brightness, carries the class. */
const dailyColour = (k: number, rng: Rng): Rgb => hsl(k / 7 + (rng() - 0.5) * 0.03, 1, 0.4 + rng() * 0.2);

/** Gender class k: 0 plain, 1 horizontal, 2 vertical, 3 diagonal cross-hatch, 4 a dotted grid, 5 checks.
 *  Each looks the same mirrored, so horizontal flips (on by default in training) keep the label. */
function onStripe(pattern: number, x: number, y: number, period: number): boolean {
  const half = period / 2;
  switch (pattern) {
    case 0:
      return false;
    case 1:
      return y % period < half;
    case 2:
      return x % period < half;
    case 3:
      return (x + y) % period < 2 || (((x - y) % period) + period) % period < 2;
    case 4:
      return x % period < 3 && y % period < 3;
    default:
      return (Math.floor(x / half) + Math.floor(y / half)) % 2 === 0;
  }
}

const DOTS_PER_EMBELLISHMENT = [0, 3, 10];

/** A patterned rectangle: the building block of both the item and the clutter. */
function patch(canvas: Canvas, box: Bbox, colour: Rgb, pattern: number, period: number) {
  const dark: Rgb = [colour[0] * 0.45, colour[1] * 0.45, colour[2] * 0.45].map(Math.round) as Rgb;
  for (let y = box.ymin; y < box.ymax; y++) {
    for (let x = box.xmin; x < box.xmax; x++) canvas.set(x, y, onStripe(pattern, x - box.xmin, y - box.ymin, period) ? dark : colour);
  }
}

/** Draws one image; its labels and bbox come from the same per-image generator, so output is reproducible. */
export function drawItem(seed: number, index: number, minSide: number, maxSide: number, difficulty: SynthDifficulty = 'standard', labelNoise = 0) {
  const rng = seedrandom(`${seed}:${index}`);
  const cleanLabels = SYNTH_CLASS_PRIORS.map((priors) => sampleClass(rng, priors));
  const labels = noisyLabels(seed, index, cleanLabels, labelNoise);
  const imageName = `${FOLDERS[index % FOLDERS.length]!}/${String(index).padStart(6, '0')}_W${String(index % 97).padStart(2, '0')}.jpg`;
  if (difficulty !== 'standard') {
    const draw = difficulty === 'realistic' ? drawRealistic : drawSilhouette;
    const { canvas, bbox } = draw(rng, between(rng, minSide, maxSide), between(rng, minSide, maxSide), cleanLabels);
    return { canvas, row: { imageName, bbox, labels, cleanLabels } };
  }
  const [daily, gender, embellishment] = cleanLabels as [number, number, number];
  const canvas = new Canvas(between(rng, minSide, maxSide), between(rng, minSide, maxSide));
  const { width, height } = canvas;
  // Background noise from a xorshift stream seeded by the image's generator: seedrandom per byte
  // would dominate the drawing time.
  let state = Math.floor(rng() * 0xffffffff) | 1;
  for (let i = 0; i < canvas.pixels.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    canvas.pixels[i] = 90 + ((state >>> 0) % 80);
  }
  for (let c = between(rng, 3, 6); c > 0; c--) {
    patch(canvas, randomBox(rng, width, height, 0.1, 0.35), dailyColour(between(rng, 0, 6), rng), between(rng, 0, 5), between(rng, 6, 12));
  }
  const bbox = randomBox(rng, width, height, 0.35, 0.75);
  patch(canvas, bbox, dailyColour(daily, rng), gender, between(rng, 6, 12));
  const radius = Math.max(2, Math.round(Math.min(bbox.xmax - bbox.xmin, bbox.ymax - bbox.ymin) / 14));
  for (let d = 0; d < DOTS_PER_EMBELLISHMENT[embellishment]!; d++) {
    canvas.disc(between(rng, bbox.xmin + radius, bbox.xmax - 1 - radius), between(rng, bbox.ymin + radius, bbox.ymax - 1 - radius), radius, [250, 250, 250]);
  }
  return { canvas, row: { imageName, bbox, labels, cleanLabels } };
}

/** Writes `count` JPEGs under `out/images/` and `out/train.csv` in the Fashion-How format. */
export async function writeSyntheticDataset(options: SynthOptions): Promise<SynthResult> {
  const { out, count, seed, minSide = 160, maxSide = 320, quality = 90, difficulty = 'standard' } = options;
  const labelNoise = options.labelNoise ?? (difficulty === 'standard' ? 0 : DEFAULT_REALISTIC_LABEL_NOISE);
  if (!SYNTH_DIFFICULTIES.includes(difficulty)) throw badInput(`Unsupported difficulty "${difficulty}". Choose one of: ${SYNTH_DIFFICULTIES.join(', ')}`);
  if (!(labelNoise >= 0 && labelNoise <= 0.5)) throw badInput(`label noise must be from 0 to 0.5 (a share of the labels), got ${labelNoise}`);
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw badInput(`count must be an integer from 1 to 1000000, got ${count}`);
  if (!Number.isInteger(seed)) throw badInput(`seed must be an integer, got ${seed}`);
  if (!(minSide >= 32 && maxSide >= minSide && maxSide <= 4096))
    throw badInput(`image sides must satisfy 32 <= minSide <= maxSide <= 4096, got ${minSide}..${maxSide}`);
  const imageRoot = path.join(out, 'images');
  for (const folder of FOLDERS) await mkdir(path.join(imageRoot, folder), { recursive: true });
  const rows: SynthRow[] = new Array(count);
  const limit = pLimit(8);
  let done = 0;
  await Promise.all(
    Array.from({ length: count }, (_, index) =>
      limit(async () => {
        const { canvas, row } = drawItem(seed, index, minSide, maxSide, difficulty, labelNoise);
        await writeFile(path.join(imageRoot, row.imageName), await encodeJpeg(canvas.pixels, canvas.width, canvas.height, quality));
        rows[index] = row;
        options.onProgress?.(++done, count);
      }),
    ),
  );
  const csvPath = path.join(out, 'train.csv');
  const records = rows.map((r) => [r.imageName, r.bbox.xmin, r.bbox.ymin, r.bbox.xmax, r.bbox.ymax, ...r.labels]);
  await writeFile(csvPath, stringify([CSV_HEADER, ...records]));
  const ceiling = noiseCeiling(SYNTH_CLASS_PRIORS, labelNoise);
  // What the generator knows and a CSV cannot say: the noise, its ceiling, and which labels it changed.
  const flipped = rows.flatMap((r, i) =>
    r.labels.flatMap((label, task) => (label === r.cleanLabels[task] ? [] : [{ row: i, task, given: label, clean: r.cleanLabels[task] }])),
  );
  await writeFile(path.join(out, 'synth.json'), `${JSON.stringify({ difficulty, labelNoise, seed, count, ceiling, flipped }, null, 1)}\n`);
  return { csvPath, imageRoot, rows, difficulty, labelNoise, ceiling };
}
