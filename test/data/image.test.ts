import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  bboxProblem,
  encodeJpeg,
  endsWhole,
  IMAGENET_PREPROCESS,
  inspectImage,
  letterbox,
  letterboxGeometry,
  normalise,
  type PreprocessSpec,
  preprocess,
} from '../../src/data/image.js';
import { pngClaiming } from '../helpers.js';

const fixture = (name: string) => new URL(`../fixtures/images/${name}`, import.meta.url).pathname;
const limits = { maxPixels: 1_000_000, maxBytes: 1_000_000 };
/** Mean 0 and std 1/255 make tensor values equal raw 0-255 pixel values, so goldens read as colours. */
const RAW: PreprocessSpec = { size: 20, padValue: 255, mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };

/** The RGB value at (x, y) of a CHW tensor of side `size`. */
function rgbAt(tensor: Float32Array, size: number, x: number, y: number): number[] {
  const plane = size * size;
  return [0, 1, 2].map((c) => Math.round(tensor[c * plane + y * size + x]!));
}

describe('letterboxGeometry', () => {
  it('puts the long side at the target size and centres the short side', () => {
    expect(letterboxGeometry(40, 20, 20)).toEqual({ width: 20, height: 10, left: 0, top: 5 });
    expect(letterboxGeometry(20, 40, 224)).toEqual({ width: 112, height: 224, left: 56, top: 0 });
    // 300x199 -> 224 x round(199 * 224 / 300) = 224 x 149, top = floor(75 / 2) = 37
    expect(letterboxGeometry(300, 199, 224)).toEqual({ width: 224, height: 149, left: 0, top: 37 });
    expect(letterboxGeometry(7, 7, 5)).toEqual({ width: 5, height: 5, left: 0, top: 0 });
    // 8x5 into 4: height 2.5 rounds half up (the Python worker matches this, not Python's round()).
    expect(letterboxGeometry(8, 5, 4)).toEqual({ width: 4, height: 3, left: 0, top: 0 });
    // A sliver keeps at least one pixel.
    expect(letterboxGeometry(1000, 1, 224)).toEqual({ width: 224, height: 1, left: 0, top: 111 });
  });
});

describe('preprocess', () => {
  it('crops, pads with white above and below, and keeps exact pixel values when no resize is needed', async () => {
    const { tensor, geometry } = await preprocess(fixture('halves.png'), { xmin: 0, ymin: 0, xmax: 40, ymax: 20 }, { ...RAW, size: 40 }, limits);
    expect(geometry).toEqual({ width: 40, height: 20, left: 0, top: 10 });
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 40; x++) {
        const inside = y >= 10 && y < 30;
        const expected = !inside ? [255, 255, 255] : x === 30 && y - 10 === 3 ? [0, 255, 0] : x < 20 ? [255, 0, 0] : [0, 0, 255];
        expect(rgbAt(tensor, 40, x, y), `pixel (${x}, ${y})`).toEqual(expected);
      }
    }
  });

  it('crops to the bbox before resizing: a bbox over the blue half gives only blue and white', async () => {
    const { tensor, geometry } = await preprocess(fixture('halves.png'), { xmin: 20, ymin: 5, xmax: 30, ymax: 15 }, { ...RAW, size: 10 }, limits);
    expect(geometry).toEqual({ width: 10, height: 10, left: 0, top: 0 });
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) expect(rgbAt(tensor, 10, x, y)).toEqual([0, 0, 255]);
  });

  it('downscales into the letterbox with white bands of the exact computed height', async () => {
    const { tensor, geometry } = await preprocess(fixture('halves.png'), { xmin: 0, ymin: 0, xmax: 40, ymax: 20 }, { ...RAW, size: 10 }, limits);
    expect(geometry).toEqual({ width: 10, height: 5, left: 0, top: 2 });
    for (const y of [0, 1, 7, 8, 9]) for (let x = 0; x < 10; x++) expect(rgbAt(tensor, 10, x, y)).toEqual([255, 255, 255]);
    // Away from the red/blue edge the halves keep their colours.
    for (let y = 2; y < 7; y++) {
      expect(rgbAt(tensor, 10, 1, y)).toEqual([255, 0, 0]);
      const blue = rgbAt(tensor, 10, 8, y);
      expect(blue[2]).toBeGreaterThan(200);
      expect(blue[0]).toBeLessThan(40);
    }
  });

  it('normalises with the given mean and std, channel by channel', async () => {
    const { tensor } = await preprocess(fixture('halves.png'), { xmin: 0, ymin: 0, xmax: 10, ymax: 10 }, { ...IMAGENET_PREPROCESS, size: 10 }, limits);
    const plane = 100;
    // Red pixel: (1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225
    expect(tensor[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(tensor[plane]).toBeCloseTo(-0.456 / 0.224, 5);
    expect(tensor[2 * plane]).toBeCloseTo(-0.406 / 0.225, 5);
    expect(tensor.length).toBe(3 * plane);
  });

  it('normalises every 8-bit value to the float32 that (value / 255 - mean) / std rounds to', () => {
    // All 256 values in each channel, for ImageNet's statistics, the identity-like RAW spec, and odd ones.
    const specs: PreprocessSpec[] = [
      { ...IMAGENET_PREPROCESS, size: 16 },
      { ...RAW, size: 16 },
      { size: 16, padValue: 0, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      { size: 16, padValue: 0, mean: [0.6109, 0.5785, 0.5471], std: [0.2887, 0.2951, 0.3003] },
    ];
    const pixels = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => Math.floor(i / 3) % 256);
    for (const spec of specs) {
      const tensor = normalise(pixels, spec);
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 256; i++) expect(tensor[c * 256 + i]).toBe(Math.fround((pixels[3 * i + c]! / 255 - spec.mean[c]!) / spec.std[c]!));
    }
  });

  it('composites transparent pixels onto white', async () => {
    const { tensor } = await preprocess(fixture('alpha.png'), { xmin: 0, ymin: 0, xmax: 10, ymax: 10 }, { ...RAW, size: 10 }, limits);
    expect(rgbAt(tensor, 10, 2, 5)).toEqual([0, 255, 0]);
    expect(rgbAt(tensor, 10, 7, 5)).toEqual([255, 255, 255]);
  });

  it('turns a one-channel grey image into three equal channels', async () => {
    const { tensor } = await preprocess(fixture('grey.png'), { xmin: 0, ymin: 0, xmax: 10, ymax: 10 }, { ...RAW, size: 10 }, limits);
    expect(rgbAt(tensor, 10, 4, 4)).toEqual([100, 100, 100]);
  });

  it('converts a CMYK JPEG to RGB', async () => {
    const { tensor } = await preprocess(fixture('cmyk.jpg'), { xmin: 0, ymin: 0, xmax: 16, ymax: 16 }, { ...RAW, size: 16 }, limits);
    const [r, g, b] = rgbAt(tensor, 16, 8, 8);
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });

  it('applies EXIF orientation before the bbox: a 32x16 file tagged "rotate 90" is a 16x32 image', async () => {
    expect(await inspectImage(fixture('exif-rotate-90.jpg'), limits)).toMatchObject({ width: 16, height: 32 });
    const { tensor, geometry } = await preprocess(fixture('exif-rotate-90.jpg'), { xmin: 0, ymin: 0, xmax: 16, ymax: 32 }, { ...RAW, size: 32 }, limits);
    expect(geometry).toEqual({ width: 16, height: 32, left: 8, top: 0 });
    for (let y = 0; y < 32; y++) for (const x of [0, 7, 24, 31]) expect(rgbAt(tensor, 32, x, y)).toEqual([255, 255, 255]);
    const top = rgbAt(tensor, 32, 16, 4);
    const bottom = rgbAt(tensor, 32, 16, 28);
    expect(top[0]).toBeGreaterThan(220);
    expect(top[2]).toBeLessThan(40);
    expect(bottom[2]).toBeGreaterThan(220);
    expect(bottom[0]).toBeLessThan(40);
  });
});

describe('decoding down to the box', () => {
  // Bytes that provably run to their end are decoded down to the box's last row in one pipeline; a
  // path (or anything else) is decoded whole first. Both must give the model the same pixels.
  it('gives exactly the pixels of a whole decode, for every kind of photo and box', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-box-'));
    const photo = new Uint8Array(301 * 203 * 3).map((_, i) => (i * 7919) % 253);
    const cases: [string, Buffer][] = [
      ['noisy.jpg', await encodeJpeg(photo, 301, 203, 90)],
      [
        'noisy.webp',
        await sharp(photo, { raw: { width: 301, height: 203, channels: 3 } })
          .webp({ quality: 80 })
          .toBuffer(),
      ],
      ...(['halves.png', 'alpha.png', 'grey.png', 'cmyk.jpg', 'exif-rotate-90.jpg'] as const).map((name): [string, Buffer] => [name, Buffer.alloc(0)]),
    ];
    for (const entry of cases) if (entry[1].length === 0) entry[1] = await readFile(fixture(entry[0]));
    let compared = 0;
    for (const [name, bytes] of cases) {
      const { width, height } = await inspectImage(bytes, limits);
      expect(endsWhole(bytes, name.endsWith('.png') ? 'png' : name.endsWith('.webp') ? 'webp' : 'jpeg'), name).toBe(true);
      const boxes = [
        { xmin: 0, ymin: 0, xmax: width, ymax: height },
        { xmin: 1, ymin: 2, xmax: Math.max(2, width >> 1), ymax: Math.max(3, height >> 1) },
        { xmin: width >> 2, ymin: height >> 2, xmax: width, ymax: height },
      ];
      for (const bbox of boxes) {
        for (const size of [7, 64, 224]) {
          const spec = { ...IMAGENET_PREPROCESS, size };
          const file = path.join(dir, name);
          await writeFile(file, bytes);
          const fromPath = await letterbox(file, bbox, spec, limits);
          const fromBytes = await letterbox(bytes, bbox, spec, limits);
          expect(Buffer.from(fromBytes.pixels).equals(Buffer.from(fromPath.pixels)), `${name} ${JSON.stringify(bbox)} at ${size}`).toBe(true);
          compared++;
        }
      }
    }
    expect(compared).toBe(7 * 3 * 3);
    await rm(dir, { recursive: true });
  });

  it('decodes a JPEG, PNG or WebP cut short below the box whole, and refuses it', async () => {
    const photo = new Uint8Array(96 * 96 * 3).map((_, i) => (i * 37) % 251);
    const jpeg = await encodeJpeg(photo, 96, 96, 95);
    const png = await sharp(photo, { raw: { width: 96, height: 96, channels: 3 } })
      .png()
      .toBuffer();
    const webp = await sharp(photo, { raw: { width: 96, height: 96, channels: 3 } })
      .webp({ quality: 90 })
      .toBuffer();
    const top = { xmin: 0, ymin: 0, xmax: 8, ymax: 8 };
    for (const [format, bytes] of [
      ['jpeg', jpeg],
      ['png', png],
      ['webp', webp],
    ] as const) {
      const cut = bytes.subarray(0, Math.floor(bytes.length * 0.7));
      expect(endsWhole(bytes, format), format).toBe(true);
      expect(endsWhole(cut, format), format).toBe(false);
      // Cut below the box: libjpeg, decoding down to the box alone, would never reach the cut.
      if (format === 'jpeg')
        await expect(sharp(cut, { failOn: 'error' }).extract({ left: 0, top: 0, width: 8, height: 8 }).raw().toBuffer()).resolves.toBeDefined();
      await expect(preprocess(cut, top, RAW, limits), format).rejects.toThrow(/corrupt or truncated/);
    }
  });
});

describe('bad images', () => {
  const bbox = { xmin: 0, ymin: 0, xmax: 4, ymax: 4 };

  it('refuses bytes that are not an image', async () => {
    await expect(preprocess(Buffer.from('this is not an image at all'), bbox, RAW, limits)).rejects.toThrow(/cannot be decoded: not a supported image format/);
  });

  it('refuses a truncated JPEG, both when inspecting and when preprocessing', async () => {
    const pixels = new Uint8Array(64 * 64 * 3).map((_, i) => (i * 37) % 251);
    const jpeg = await encodeJpeg(pixels, 64, 64, 95);
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    await expect(inspectImage(truncated, limits)).rejects.toThrow(/corrupt or truncated/);
    await expect(preprocess(truncated, bbox, RAW, limits)).rejects.toThrow(/corrupt or truncated/);
  });

  it('refuses a PNG whose header claims more pixels than the limit, naming the size and the limit', async () => {
    const bomb = pngClaiming(50_000, 50_000);
    expect(bomb.length).toBeLessThan(10_000);
    await expect(preprocess(bomb, bbox, RAW, limits)).rejects.toThrow(/pixel limit|50000x50000 = 2500000000 pixels, over the limit of 1000000/);
  });

  it('refuses an encoded image larger than the byte limit', async () => {
    const bytes = await readFile(fixture('exif-rotate-90.jpg'));
    await expect(preprocess(bytes, bbox, RAW, { ...limits, maxBytes: 100 })).rejects.toThrow(`image is ${bytes.length} bytes, over the limit of 100 bytes`);
  });

  it('refuses bboxes outside the image or without area', async () => {
    await expect(preprocess(fixture('halves.png'), { xmin: 30, ymin: 0, xmax: 41, ymax: 20 }, RAW, limits)).rejects.toThrow(
      'bbox (30, 0, 41, 20) must lie inside the 40x20 image',
    );
    expect(bboxProblem({ xmin: 5, ymin: 5, xmax: 5, ymax: 9 }, 40, 20)).toMatch(/positive area/);
    expect(bboxProblem({ xmin: -1, ymin: 0, xmax: 5, ymax: 9 }, 40, 20)).toMatch(/inside the 40x20 image/);
    expect(bboxProblem({ xmin: 0.5, ymin: 0, xmax: 5, ymax: 9 }, 40, 20)).toMatch(/integers/);
    expect(bboxProblem({ xmin: 0, ymin: 0, xmax: 40, ymax: 20 }, 40, 20)).toBeNull();
  });
});
