// The realistic difficulty of the synthetic data: a benchmark a good model does not saturate. Unlike the
// standard images (one hue, one pattern, one dot count per class, learnt perfectly in a few epochs), the
// classes here come in confusable groups that differ in small details, the garment sits among textured
// clutter and decoy garments, is partly covered now and then, its labelled bbox is a little off, and a
// stated share of the labels is replaced by a confusable neighbour (sensibility labels are subjective).
//   Daily: a hue group (warm, blue, purple) and, inside it, a thin collar band (none, light, dark)
//   Gender: fine or wide horizontal stripes, vertical stripes, checks, a dotted grid, or plain
//   Embellishment: none, a few (1-3) or many (5-10) small decorations
// Every pattern looks the same mirrored, so a horizontal flip keeps every label.
import seedrandom from 'seedrandom';
import type { Bbox } from '../domain.js';
import { between, Canvas, clamp, hsl, type Rgb, type Rng, randomBox } from './synthCanvas.js';

/** Daily class k: its hue group's hue and its collar (0 none, 1 light band, 2 dark band). */
const DAILY: readonly { hue: number; collar: 0 | 1 | 2 }[] = [
  { hue: 0.07, collar: 0 },
  { hue: 0.07, collar: 1 },
  { hue: 0.07, collar: 2 },
  { hue: 0.58, collar: 0 },
  { hue: 0.58, collar: 1 },
  { hue: 0.8, collar: 0 },
  { hue: 0.8, collar: 2 },
];

/** Who a noisy label turns into: a class the annotator could mistake for this one. */
export const CONFUSABLE: readonly (readonly (readonly number[])[])[] = [
  [[1, 2], [0, 2], [0, 1], [4], [3], [6], [5]],
  [[5], [2], [1], [4], [3], [0]],
  [[1], [0, 2], [1]],
];

const DECORATIONS: readonly [number, number][] = [
  [0, 0],
  [1, 3],
  [5, 10],
];

/** Gender class k's pattern at (x, y) inside the garment: whether the pixel is on the darker part. */
function onPattern(gender: number, x: number, y: number, period: number): boolean {
  switch (gender) {
    case 0:
      return false;
    case 1:
      return y % period < period / 2; // fine horizontal stripes (period 4-6)
    case 2:
      return y % period < period / 2; // wide horizontal stripes (period 9-13)
    case 3:
      return x % period < period / 2;
    case 4:
      return (Math.floor(x / (period / 2)) + Math.floor(y / (period / 2))) % 2 === 0;
    default:
      return x % period < 2 && y % period < 2; // a sparse dotted grid: close to plain at a glance
  }
}

const periodOf = (gender: number, rng: Rng) => (gender === 1 ? between(rng, 4, 6) : gender === 2 ? between(rng, 9, 13) : between(rng, 6, 10));

/** A garment-like patch: its colour shaded from top to bottom, a pattern, fabric noise. */
function drawFabric(canvas: Canvas, box: Bbox, colour: Rgb, gender: number, period: number, contrast: number, rng: Rng) {
  const h = Math.max(1, box.ymax - box.ymin);
  for (let y = box.ymin; y < box.ymax; y++) {
    const shade = 1.08 - (0.22 * (y - box.ymin)) / h;
    for (let x = box.xmin; x < box.xmax; x++) {
      const dark = onPattern(gender, x - box.xmin, y - box.ymin, period) ? contrast : 1;
      const c = colour.map((v) => v * shade * dark) as Rgb;
      canvas.set(x, y, c, (rng() - 0.5) * 24);
    }
  }
}

/** The collar: a band across the top middle of the garment, light or dark against it. */
function drawCollar(canvas: Canvas, box: Bbox, kind: 1 | 2, colour: Rgb, rng: Rng) {
  const w = box.xmax - box.xmin;
  const h = box.ymax - box.ymin;
  const bandW = Math.round(w * (0.4 + rng() * 0.2));
  const bandH = Math.max(2, Math.round(h * (0.06 + rng() * 0.03)));
  const x0 = box.xmin + Math.round((w - bandW) / 2);
  const tint: Rgb = kind === 1 ? (colour.map((v) => v + (255 - v) * 0.6) as Rgb) : (colour.map((v) => v * 0.35) as Rgb);
  for (let y = box.ymin + 1; y < box.ymin + 1 + bandH; y++) for (let x = x0; x < x0 + bandW; x++) canvas.set(x, y, tint, (rng() - 0.5) * 16);
}

/** A whole garment of the given classes: the item itself, or a decoy among the clutter. */
function drawGarment(canvas: Canvas, box: Bbox, [daily, gender, embellishment]: readonly number[], rng: Rng) {
  const { hue, collar } = DAILY[daily!]!;
  const colour = hsl(hue + (rng() - 0.5) * 0.08, 0.45 + rng() * 0.35, 0.42 + rng() * 0.2);
  drawFabric(canvas, box, colour, gender!, periodOf(gender!, rng), 0.62 + rng() * 0.22, rng);
  if (collar !== 0) drawCollar(canvas, box, collar, colour, rng);
  const [lo, hi] = DECORATIONS[embellishment!]!;
  const radius = Math.max(1, Math.round(Math.min(box.xmax - box.xmin, box.ymax - box.ymin) / between(rng, 20, 28)));
  const ornament: Rgb = rng() < 0.5 ? [245, 245, 240] : [222, 184, 70];
  for (let d = between(rng, lo, hi); d > 0; d--) {
    canvas.disc(between(rng, box.xmin + radius, box.xmax - 1 - radius), between(rng, box.ymin + radius + 3, box.ymax - 1 - radius), radius, ornament);
  }
}

/** The image of one item whose clean labels are given; returns the labelled (jittered) bbox. */
export function drawRealistic(rng: Rng, width: number, height: number, labels: readonly number[]): { canvas: Canvas; bbox: Bbox } {
  const canvas = new Canvas(width, height);
  // A textured background: a gradient plus grain from a fast xorshift stream (seedrandom per byte would
  // dominate the drawing time).
  const base = hsl(rng(), 0.15 + rng() * 0.2, 0.45 + rng() * 0.2);
  let state = Math.floor(rng() * 0xffffffff) | 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const g = 0.85 + (0.3 * (x + y)) / (width + height);
      canvas.set(x, y, base.map((v) => v * g) as Rgb, ((state >>> 0) % 40) - 20);
    }
  }
  // Clutter: plain and patterned patches, and decoy garments of random classes outside the item.
  for (let c = between(rng, 4, 8); c > 0; c--) {
    const box = randomBox(rng, width, height, 0.1, 0.35);
    if (rng() < 0.4) drawGarment(canvas, box, [between(rng, 0, 6), between(rng, 0, 5), between(rng, 0, 2)], rng);
    else drawFabric(canvas, box, hsl(rng(), 0.3 + rng() * 0.5, 0.3 + rng() * 0.4), between(rng, 0, 5), between(rng, 4, 12), 0.6 + rng() * 0.3, rng);
  }
  const item = randomBox(rng, width, height, 0.4, 0.75);
  drawGarment(canvas, item, labels, rng);
  // Partial occlusion: a third of the items have something in front of one of their edges.
  if (rng() < 0.35) {
    const w = item.xmax - item.xmin;
    const h = item.ymax - item.ymin;
    const ow = Math.round(w * (0.25 + rng() * 0.3));
    const oh = Math.round(h * (0.25 + rng() * 0.3));
    const left = rng() < 0.5;
    const top = rng() < 0.5;
    const ox = left ? item.xmin - Math.round(ow * 0.3) : item.xmax - Math.round(ow * 0.7);
    const oy = top ? item.ymin - Math.round(oh * 0.3) : item.ymax - Math.round(oh * 0.7);
    drawFabric(canvas, { xmin: ox, ymin: oy, xmax: ox + ow, ymax: oy + oh }, hsl(rng(), 0.2 + rng() * 0.4, 0.3 + rng() * 0.4), 0, 8, 1, rng);
  }
  // The annotated box is a little off the garment, as hand-drawn boxes are.
  const jitter = (size: number) => Math.round((rng() - 0.5) * 0.16 * size);
  const w = item.xmax - item.xmin;
  const h = item.ymax - item.ymin;
  const bbox = {
    xmin: clamp(item.xmin + jitter(w), 0, width - 9),
    ymin: clamp(item.ymin + jitter(h), 0, height - 9),
    xmax: 0,
    ymax: 0,
  };
  bbox.xmax = clamp(item.xmax + jitter(w), bbox.xmin + 8, width);
  bbox.ymax = clamp(item.ymax + jitter(h), bbox.ymin + 8, height);
  return { canvas, bbox };
}

/** The label an annotator gives: the clean class, or with probability `rate` a confusable neighbour.
 *  Drawn from its own stream, so the images are the same at every noise rate. */
export function noisyLabels(seed: number, index: number, clean: readonly number[], rate: number): number[] {
  const rng = seedrandom(`${seed}:${index}:labels`);
  return clean.map((label, task) => {
    const flip = rng() < rate;
    const neighbours = CONFUSABLE[task]![label]!;
    const pick = neighbours[Math.floor(rng() * neighbours.length)]!;
    return flip ? pick : label;
  });
}

export interface NoiseCeiling {
  task: number;
  /** Top-1 of a model that recovers every clean label (the best any model can do, given the noise). */
  top1: number;
  /** ACSA of that model: per labelled class, the share of its items whose clean class is the same. */
  acsa: number;
}

/** The ceiling label noise alone puts on each task, from the class priors and the flip rule (occlusion
 *  can hide a detail too, so the reachable figures are a little lower still). */
export function noiseCeiling(priors: readonly (readonly number[])[], rate: number): NoiseCeiling[] {
  return priors.map((prior, task) => {
    const into = prior.map(() => 0); // probability mass labelled b whose clean class is another
    prior.forEach((p, a) => {
      const neighbours = CONFUSABLE[task]![a]!;
      for (const b of neighbours) into[b]! += (p * rate) / neighbours.length;
    });
    const recalls = prior.map((p, b) => (p * (1 - rate)) / (p * (1 - rate) + into[b]!));
    return { task, top1: 1 - rate, acsa: recalls.reduce((s, r) => s + r, 0) / recalls.length };
  });
}
