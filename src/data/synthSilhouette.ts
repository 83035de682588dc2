// A second kind of hard synthetic data, built differently from the realistic one so that a training
// default is not tuned to one generator. There, colour and a collar band give Daily away; here colour
// says nothing (every garment takes a random colour) and the classes live in shape and fine detail:
//   Daily: the garment's silhouette: t-shirt, long sleeves, dress, coat (a centre opening), skirt,
//          trousers, tank top; drawn at random scale and proportions, so outlines overlap between classes
//   Gender: a fine texture: diagonal lines (fine or wide), zigzag, speckle, a soft vertical gradient, plain
//   Embellishment: none, a hem trim, or many tiny bright sequins
// The garment lies on a blurry photo-like background of soft blobs, is often partly covered by another
// garment, and its box is jittered; labels get the same confusable-neighbour noise as the realistic data.
import type { Bbox } from '../domain.js';
import { between, Canvas, clamp, hsl, type Rgb, type Rng } from './synthCanvas.js';

type Mask = (u: number, v: number) => boolean;

/** Whether (u, v) in [0,1]^2 of the garment's box is inside silhouette k; `p` varies its proportions. */
export function silhouette(daily: number, p: number): Mask {
  const body = (u: number, half: number) => Math.abs(u - 0.5) <= half;
  switch (daily) {
    case 0: // t-shirt: body plus short sleeves at the top
      return (u, v) => body(u, 0.26 + 0.04 * p) || (v < 0.3 + 0.05 * p && v > 0.05);
    case 1: // long sleeves: narrow arms down the sides to the bottom
      return (u, v) => body(u, 0.24 + 0.04 * p) || (v > 0.05 && (u < 0.14 || u > 0.86));
    case 2: // dress: narrow at the top, flared below
      return (u, v) => body(u, 0.16 + (0.3 + 0.05 * p) * v);
    case 3: // coat: a wide body with a narrow opening down the middle that widens into a V at the neck
      return (u, v) => body(u, 0.42 + 0.05 * p) && !body(u, 0.02 + 0.4 * Math.max(0, 0.35 - v));
    case 4: // skirt: a trapezoid in the lower two thirds
      return (u, v) => v > 0.33 && body(u, 0.18 + (0.3 + 0.05 * p) * (v - 0.33));
    case 5: // trousers: two legs below a waistband
      return (u, v) => body(u, 0.34 + 0.04 * p) && (v < 0.25 || !body(u, 0.08 + 0.03 * p));
    default: // tank top: a narrow body with two thin straps
      return (u, v) => (v > 0.25 && body(u, 0.22 + 0.04 * p)) || (v <= 0.25 && (Math.abs(u - 0.38) < 0.035 || Math.abs(u - 0.62) < 0.035));
  }
}

/** Gender k's texture at pixel (x, y) of the garment: a brightness factor around 1. */
function texture(gender: number, x: number, y: number, h: number, period: number, noise: number): number {
  switch (gender) {
    case 0:
      return (x + y) % period < period / 2 ? 0.72 : 1; // fine diagonal lines (period 4-5)
    case 1:
      return (x + y) % period < period / 2 ? 0.72 : 1; // wide diagonal lines (period 9-12)
    case 2:
      return Math.abs((x % period) - period / 2) + (y % period) < period / 2 ? 0.72 : 1; // zigzag
    case 3:
      return noise < 0.18 ? 0.6 : 1; // speckle
    case 4:
      return 0.75 + (0.35 * y) / Math.max(1, h); // a soft vertical gradient
    default:
      return 1;
  }
}

const periodOfTexture = (gender: number, rng: Rng) => (gender === 0 ? between(rng, 4, 5) : gender === 1 ? between(rng, 9, 12) : between(rng, 6, 9));

/** A garment of the given classes filling its silhouette in `box`; returns its mask's bounding box. */
function drawGarment(canvas: Canvas, box: Bbox, [daily, gender, embellishment]: readonly number[], rng: Rng) {
  const mask = silhouette(daily!, rng());
  const colour = hsl(rng(), 0.25 + rng() * 0.5, 0.35 + rng() * 0.3);
  const period = periodOfTexture(gender!, rng);
  const w = Math.max(1, box.xmax - box.xmin);
  const h = Math.max(1, box.ymax - box.ymin);
  let state = Math.floor(rng() * 0xffffffff) | 1;
  const inside: [number, number][] = [];
  for (let y = box.ymin; y < box.ymax; y++) {
    for (let x = box.xmin; x < box.xmax; x++) {
      if (!mask((x - box.xmin + 0.5) / w, (y - box.ymin + 0.5) / h)) continue;
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const noise = (state >>> 0) / 0x100000000;
      const f = texture(gender!, x - box.xmin, y - box.ymin, h, period, noise);
      canvas.set(x, y, colour.map((v) => v * f) as Rgb, (noise - 0.5) * 18);
      inside.push([x, y]);
    }
  }
  if (embellishment === 1) {
    // A hem trim: a contrasting band along the garment's lowest rows.
    const band = Math.max(2, Math.round(h * 0.05));
    const trim: Rgb = rng() < 0.5 ? [240, 235, 220] : [30, 30, 35];
    for (const [x, y] of inside) if (y >= box.ymax - band - Math.round(h * 0.02) && y < box.ymax - Math.round(h * 0.02)) canvas.set(x, y, trim);
  } else if (embellishment === 2 && inside.length > 0) {
    // Sequins: many tiny bright specks.
    for (let s = between(rng, 12, 24); s > 0; s--) {
      const [x, y] = inside[Math.floor(rng() * inside.length)]!;
      canvas.set(x, y, [255, 250, 200]);
      canvas.set(x + 1, y, [255, 250, 200]);
    }
  }
}

/** The image of one item whose clean labels are given; returns the labelled (jittered) bbox. */
export function drawSilhouette(rng: Rng, width: number, height: number, labels: readonly number[]): { canvas: Canvas; bbox: Bbox } {
  const canvas = new Canvas(width, height);
  // A blurry photo-like background: a few soft blobs of colour blended by distance.
  const blobs = Array.from({ length: between(rng, 3, 5) }, () => ({
    x: rng() * width,
    y: rng() * height,
    c: hsl(rng(), 0.2 + rng() * 0.3, 0.3 + rng() * 0.45),
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let total = 0;
      const mix: Rgb = [0, 0, 0];
      for (const blob of blobs) {
        const weight = 1 / (1 + ((x - blob.x) ** 2 + (y - blob.y) ** 2) / (0.05 * width * height));
        total += weight;
        for (let k = 0; k < 3; k++) mix[k]! += blob.c[k]! * weight;
      }
      canvas.set(x, y, mix.map((v) => v / total) as Rgb);
    }
  }
  const w = Math.round(width * (0.45 + rng() * 0.35));
  const h = Math.round(height * (0.5 + rng() * 0.4));
  const item = { xmin: between(rng, 0, width - w), ymin: between(rng, 0, height - h), xmax: 0, ymax: 0 };
  item.xmax = item.xmin + w;
  item.ymax = item.ymin + h;
  drawGarment(canvas, item, labels, rng);
  // Half the items are partly covered by another garment of random classes, coming in from one side.
  if (rng() < 0.5) {
    const ow = Math.round(w * (0.3 + rng() * 0.3));
    const oh = Math.round(h * (0.4 + rng() * 0.4));
    const ox = rng() < 0.5 ? item.xmin - Math.round(ow * 0.6) : item.xmax - Math.round(ow * 0.4);
    const oy = item.ymin + between(rng, 0, Math.max(0, h - oh));
    drawGarment(canvas, { xmin: ox, ymin: oy, xmax: ox + ow, ymax: oy + oh }, [between(rng, 0, 6), between(rng, 0, 5), between(rng, 0, 2)], rng);
  }
  const jitter = (size: number) => Math.round((rng() - 0.5) * 0.12 * size);
  const bbox = { xmin: clamp(item.xmin + jitter(w), 0, width - 9), ymin: clamp(item.ymin + jitter(h), 0, height - 9), xmax: 0, ymax: 0 };
  bbox.xmax = clamp(item.xmax + jitter(w), bbox.xmin + 8, width);
  bbox.ymax = clamp(item.ymax + jitter(h), bbox.ymin + 8, height);
  return { canvas, bbox };
}
