// Occlusion sensitivity (Zeiler & Fergus, 2014): where in the crop did a decision come from? Each cell
// of a grid over the model's input is covered in turn by a patch of the normalisation mean (a
// normalised 0: "no information" to the network), every copy goes through the same members and soft
// vote as classify, and a cell's value is how much the predicted class's probability drops without it.

import { encodePng, type LetterboxGeometry, normalise, type PreprocessSpec } from '../data/image.js';
import type { Bbox } from '../domain.js';
import { badInput } from '../errors.js';
import { argmax } from '../numeric.js';
import { type ClassifyService, imageError, specsOf } from './classify.js';

export const SALIENCY_GRID = { min: 2, max: 16, default: 8 } as const;

/** Occluded copies go to the batchers at most this many at a time (and at most half a model's queue,
 *  what one client may hold while others wait), so a map never holds a model's whole queue. */
const CHUNK = 16;

export interface SaliencyRequest {
  image: Buffer;
  bbox: Bbox;
  ensembleId?: number;
  artifactId?: number;
  /** Cells per side of the grid. */
  grid?: number;
  client?: string;
}

export interface TaskSaliency {
  task: string;
  classes: string[];
  /** The answer without occlusion. */
  probabilities: number[];
  predicted: number;
  /** Row-major grid x grid: probability of `predicted` unoccluded minus with the cell occluded. */
  drops: number[];
}

export interface Saliency {
  target: Awaited<ReturnType<ClassifyService['members']>>['target'];
  /** The first member's input (members of another size see the same crop at their size). */
  spec: PreprocessSpec;
  geometry: LetterboxGeometry;
  /** PNG of the letterboxed crop exactly as the model receives it, before normalisation. */
  png: Buffer;
  grid: number;
  /** The patch's colour, per channel (the normalisation mean in 8 bits). */
  patch: [number, number, number];
  tasks: TaskSaliency[];
}

/** Cell (row, column) of a grid over a size x size square: [start, end) in pixels on each axis. */
export function cellBounds(row: number, column: number, size: number, grid: number) {
  const edge = (i: number) => Math.round((i * size) / grid);
  return { x0: edge(column), x1: edge(column + 1), y0: edge(row), y1: edge(row + 1) };
}

/** The patch colour for a spec: its mean in 8 bits, which normalises to (almost exactly) 0. */
export const patchColour = (spec: PreprocessSpec): [number, number, number] =>
  [0, 1, 2].map((c) => Math.min(255, Math.max(0, Math.round(spec.mean[c]! * 255)))) as [number, number, number];

/** A copy of interleaved RGB pixels with one grid cell covered by the patch colour. */
export function occlude(pixels: Uint8Array, size: number, grid: number, cell: number, colour: readonly number[]): Uint8Array {
  const copy = pixels.slice();
  const { x0, x1, y0, y1 } = cellBounds(Math.floor(cell / grid), cell % grid, size, grid);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) copy.set(colour, (y * size + x) * 3);
  return copy;
}

export async function saliency(classify: ClassifyService, request: SaliencyRequest): Promise<Saliency> {
  const grid = request.grid ?? SALIENCY_GRID.default;
  if (!Number.isInteger(grid) || grid < SALIENCY_GRID.min || grid > SALIENCY_GRID.max) {
    throw badInput(
      `grid must be an integer from ${SALIENCY_GRID.min} to ${SALIENCY_GRID.max} (cells per side; grid x grid occluded copies are scored), got ${grid}`,
    );
  }
  const plan = await classify.members(request);
  const specs = [...specsOf(plan.members)];
  const crops = await Promise.all(
    specs.map(async ([key, spec]) => {
      try {
        return { key, spec, ...(await classify.letterbox(request.image, request.bbox, spec, request.client)) };
      } catch (error) {
        throw imageError(error, 'image');
      }
    }),
  );
  // Copy 0 is the image as it is; copy 1 + c has cell c occluded, in every member's own size.
  const copies = grid * grid + 1;
  const tensorsOf = (copy: number) =>
    new Map(
      crops.map(({ key, spec, pixels }): [string, Float32Array] => [
        key,
        normalise(copy === 0 ? pixels : occlude(pixels, spec.size, grid, copy - 1, patchColour(spec)), spec),
      ]),
    );
  const results = [];
  const size = Math.min(CHUNK, classify.clientShare);
  for (let start = 0; start < copies; start += size) {
    const chunk = Array.from({ length: Math.min(size, copies - start) }, (_, i) => tensorsOf(start + i));
    results.push(...(await classify.vote(plan, chunk, { client: request.client })));
  }
  const [base, ...occluded] = results;
  const first = crops[0]!;
  return {
    target: plan.target,
    spec: first.spec,
    geometry: first.geometry,
    png: await encodePng(first.pixels, first.spec.size, first.spec.size, 3),
    grid,
    patch: patchColour(first.spec),
    tasks: base!.map((task, t) => {
      const predicted = argmax(task.probabilities);
      return {
        task: task.task,
        classes: task.classes,
        probabilities: task.probabilities,
        predicted,
        drops: occluded.map((o) => task.probabilities[predicted]! - o[t]!.probabilities[predicted]!),
      };
    }),
  };
}
