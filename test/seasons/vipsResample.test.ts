import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESS, letterbox } from '../../src/data/image.js';
import type { Bbox } from '../../src/domain.js';
import { testPython } from '../fixtures/python.js';
import { useScratchDir } from '../helpers.js';

// The submission package's preprocessing (predict.py: Pillow's JPEG decoding and EXIF orientation,
// vips_resample.py's port of libvips' resize) against the server's (src/data/image.ts, sharp), pixel
// for pixel, on JPEG photos written by Pillow (EXIF orientations, 4:2:0 and 4:4:4 chroma, progressive),
// random boxes from 1 px to the whole photo and model sides from 32 to 224: shrinks by up to ~90x
// (box shrink + linear reduce), enlargements (bilinear) and mixes of the two. The Python side runs in
// a separate, isolated process, as the package does.
const scratch = useScratchDir();
const run = promisify(execFile);
const PORT_CHECK = path.join(import.meta.dirname, '..', 'fixtures', 'letterbox_port.py');
let python: string;

beforeAll(async () => {
  python = (await testPython()).executable;
});

interface Case {
  image: string;
  bbox: [number, number, number, number];
  size: number;
}

async function serverPixels(folder: string): Promise<number> {
  const cases = JSON.parse(await readFile(path.join(folder, 'cases.json'), 'utf8')) as Case[];
  await mkdir(path.join(folder, 'server'), { recursive: true });
  const limits = { maxPixels: 10_000_000, maxBytes: 64 * 1024 * 1024 };
  for (const [k, c] of cases.entries()) {
    const [xmin, ymin, xmax, ymax] = c.bbox;
    const bbox: Bbox = { xmin, ymin, xmax, ymax };
    const photo = await readFile(path.join(folder, c.image));
    const { pixels } = await letterbox(photo, bbox, { ...IMAGENET_PREPROCESS, size: c.size }, limits);
    await writeFile(path.join(folder, 'server', `${k}.raw`), pixels);
  }
  return cases.length;
}

interface Report {
  cases: number;
  values: number;
  differingCases: number[];
  differingValues: number;
  maxAbs: number;
}

async function compare(format: 'jpeg' | 'png', seed: number, count: number): Promise<Report> {
  const folder = path.join(scratch.dir, format);
  const env = { PATH: process.env.PATH ?? '' };
  await run(python, ['-I', PORT_CHECK, 'make', folder, String(seed), String(count), format], { env });
  expect(await serverPixels(folder)).toBe(count);
  const { stdout } = await run(python, ['-I', PORT_CHECK, 'compare', folder, String(IMAGENET_PREPROCESS.padValue)], { env });
  const report = JSON.parse(stdout) as Report;
  console.log(
    `package vs server letterbox (${format}): ${report.cases} cases, ${report.differingCases.length} with a difference, ${report.differingValues} of ${report.values} values differ, max |d| ${report.maxAbs}`,
  );
  return report;
}

// The arithmetic is libvips' (exact on images sharp holds in memory: 900 random cases when it was
// written). What is left is where libvips starts each region's running position, which depends on how
// its sink cuts a file's pipeline: a few values in a few crops, one grey level. Measured when written:
// JPEG 8 of 160 crops, 81 of 8.1M values; PNG 3 of 120 crops, 60 of 6.4M values.
describe("the package's preprocessing against the server's", () => {
  it('gives the same pixels on JPEG photos (EXIF orientations, chroma subsampling, progressive) but for one grey level at rare points', async () => {
    const report = await compare('jpeg', 35, 160);
    expect(report.cases).toBe(160);
    expect(report.maxAbs).toBeLessThanOrEqual(1);
    expect(report.differingValues / report.values).toBeLessThan(1e-4);
    expect(report.differingCases.length).toBeLessThanOrEqual(16);
  }, 240_000);

  it('gives the same pixels on PNG photos but for one grey level at rare points', async () => {
    const report = await compare('png', 36, 40);
    expect(report.maxAbs).toBeLessThanOrEqual(1);
    expect(report.differingValues / report.values).toBeLessThan(1e-4);
  }, 240_000);
});
