// One CSV row checked: its image name stays under the image root (no absolute path, no `..`, no link
// out), the image is read once, hashed and fully decoded within the pixel and byte limits, the bbox fits
// it, and every label is a class index of its task. A row is either valid or the reason it is not.
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ImageLimits } from '../config.js';
import type { Bbox, LabelSchemaSpec } from '../domain.js';
import { badInput } from '../errors.js';
import { bboxProblem, ImageError, type ImageInfo, inspectImage } from './image.js';
import { sha256Of } from './photos.js';

export const IMAGE_COLUMN = 'image_name';
export const BBOX_COLUMNS = ['BBox_xmin', 'BBox_ymin', 'BBox_xmax', 'BBox_ymax'] as const;

export interface ValidRow {
  line: number;
  imagePath: string;
  bbox: Bbox;
  image: CheckedImage;
  /** One class index per task; empty in a prediction set. */
  labels: number[];
}

interface CheckedImage extends ImageInfo {
  file: string;
  sha256: string;
}

const INTEGER = /^-?\d+$/;

/** Resolves image_name under the root, or explains why it may not be read. */
function resolveUnderRoot(root: string, imageName: string): { file: string } | { problem: string } {
  if (imageName.trim() === '') return { problem: `${IMAGE_COLUMN} is empty` };
  if (path.isAbsolute(imageName) || path.win32.isAbsolute(imageName)) {
    return { problem: `${IMAGE_COLUMN} "${imageName}" is an absolute path; it must be relative to the image root` };
  }
  if (imageName.split(/[\\/]/).includes('..')) {
    return { problem: `${IMAGE_COLUMN} "${imageName}" contains "..", which would leave the image root` };
  }
  const file = path.resolve(root, imageName);
  if (!file.startsWith(root + path.sep)) return { problem: `${IMAGE_COLUMN} "${imageName}" leaves the image root` };
  return { file };
}

export class RowValidator {
  private readonly images = new Map<string, Promise<CheckedImage | string>>();
  private readonly columnIndex: Map<string, number>;
  /** False when the header has none of the schema's label columns: a prediction set, whose rows carry
   *  no labels. A header with some of them but not all is refused, as a typo would otherwise lose labels. */
  readonly labelled: boolean;

  constructor(
    private readonly root: string,
    private readonly realRoot: string,
    header: string[],
    private readonly schema: LabelSchemaSpec,
    private readonly limits: ImageLimits,
  ) {
    this.columnIndex = new Map(header.map((name, i) => [name.trim(), i]));
    const labelColumns = schema.tasks.map((t) => t.column);
    this.labelled = labelColumns.some((c) => this.columnIndex.has(c));
    const required = [IMAGE_COLUMN, ...BBOX_COLUMNS, ...(this.labelled ? labelColumns : [])];
    const missing = required.filter((c) => !this.columnIndex.has(c));
    if (missing.length > 0) {
      throw badInput(
        `the CSV header lacks column(s) ${missing.join(', ')}; expected ${required.join(',')}` +
          (this.labelled ? '' : ` (a CSV without the label columns ${labelColumns.join(', ')} imports as a prediction set)`),
      );
    }
  }

  private cell(record: string[], column: string): string {
    return (record[this.columnIndex.get(column)!] ?? '').trim();
  }

  /** Reads, hashes and decodes each distinct image once, however many rows refer to it. */
  private image(file: string): Promise<CheckedImage | string> {
    let pending = this.images.get(file);
    if (!pending) {
      pending = (async () => {
        const found = await stat(file).catch(() => null);
        if (!found?.isFile()) return 'image file not found under the image root';
        const real = await realpath(file);
        if (!real.startsWith(this.realRoot + path.sep)) return 'image path resolves (through a symbolic link) outside the image root';
        if (found.size > this.limits.maxBytes) return `image is ${found.size} bytes, over the limit of ${this.limits.maxBytes} (FASHION_HOW_MAX_IMAGE_BYTES)`;
        try {
          const bytes = await readFile(real);
          return { ...(await inspectImage(bytes, this.limits)), file: real, sha256: sha256Of(bytes) };
        } catch (error) {
          if (error instanceof ImageError) return error.message;
          throw error;
        }
      })();
      this.images.set(file, pending);
    }
    return pending;
  }

  async validate(record: string[], line: number, expectedColumns: number): Promise<ValidRow | string> {
    if (record.length !== expectedColumns) return `expected ${expectedColumns} columns, found ${record.length}`;
    const imageName = this.cell(record, IMAGE_COLUMN);
    const labels: number[] = [];
    for (const task of this.labelled ? this.schema.tasks : []) {
      const raw = this.cell(record, task.column);
      const value = Number(raw);
      if (!INTEGER.test(raw) || value < 0 || value >= task.classes.length) {
        return `${task.column} label "${raw}" is not a class index from 0 to ${task.classes.length - 1}`;
      }
      labels.push(value);
    }
    const coords: number[] = [];
    for (const column of BBOX_COLUMNS) {
      const raw = this.cell(record, column);
      if (!INTEGER.test(raw)) return `${column} "${raw}" is not an integer pixel coordinate`;
      coords.push(Number(raw));
    }
    const [xmin, ymin, xmax, ymax] = coords as [number, number, number, number];
    const bbox = { xmin, ymin, xmax, ymax };
    const resolved = resolveUnderRoot(this.root, imageName);
    if ('problem' in resolved) return resolved.problem;
    const image = await this.image(resolved.file);
    if (typeof image === 'string') return `${image} ("${imageName}")`;
    const problem = bboxProblem(bbox, image.width, image.height);
    if (problem) return problem;
    return { line, imagePath: imageName, bbox, image, labels };
  }
}
