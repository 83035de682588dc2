// The drawing primitives both synthetic difficulties share: an RGB canvas, HSL colours, random boxes
// and integers from a seeded generator.
import type { Bbox } from '../domain.js';

export type Rng = () => number;
export type Rgb = [number, number, number];

export const between = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
export const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

/** HSL to RGB; hue in [0, 1), saturation and lightness in [0, 1]. */
export function hsl(hue: number, saturation: number, lightness: number): Rgb {
  const q = lightness < 0.5 ? lightness * (1 + saturation) : lightness + saturation - lightness * saturation;
  const p = 2 * lightness - q;
  const channel = (t: number) => {
    const h = ((t % 1) + 1) % 1;
    if (h < 1 / 6) return p + (q - p) * 6 * h;
    if (h < 1 / 2) return q;
    if (h < 2 / 3) return p + (q - p) * (2 / 3 - h) * 6;
    return p;
  };
  return [channel(hue + 1 / 3), channel(hue), channel(hue - 1 / 3)].map((v) => Math.round(clamp(v, 0, 1) * 255)) as Rgb;
}

/** A box of `minFraction` to `maxFraction` of each side (at least 8 px), anywhere inside width x height. */
export function randomBox(rng: Rng, width: number, height: number, minFraction: number, maxFraction: number): Bbox {
  const w = Math.max(8, Math.round(width * (minFraction + rng() * (maxFraction - minFraction))));
  const h = Math.max(8, Math.round(height * (minFraction + rng() * (maxFraction - minFraction))));
  const xmin = between(rng, 0, width - w);
  const ymin = between(rng, 0, height - h);
  return { xmin, ymin, xmax: xmin + w, ymax: ymin + h };
}

export class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3);
  }

  /** One pixel, `noise` added to each channel; pixels off the canvas are skipped. */
  set(x: number, y: number, [r, g, b]: Rgb, noise = 0) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.pixels[i] = clamp(r + noise, 0, 255);
    this.pixels[i + 1] = clamp(g + noise, 0, 255);
    this.pixels[i + 2] = clamp(b + noise, 0, 255);
  }

  disc(cx: number, cy: number, radius: number, colour: Rgb) {
    for (let y = cy - radius; y <= cy + radius; y++) {
      for (let x = cx - radius; x <= cx + radius; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= radius * radius) this.set(x, y, colour);
    }
  }
}
