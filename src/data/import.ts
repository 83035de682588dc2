// Imports a Fashion-How CSV plus its image folder. Every row is checked (path stays under the image
// root, the image decodes, the bbox fits, labels are in range) before anything is written; the write
// is one transaction, so an import either stores the whole dataset or nothing.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import pLimit from 'p-limit';
import type { ImageLimits } from '../config.js';
import type { Db } from '../db/client.js';
import type { Bbox, LabelSchemaSpec, Split } from '../domain.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { bboxProblem, ImageError, type ImageInfo, inspectImage } from './image.js';
import { resolveLabelSchema, schemaFingerprint } from './labelSchema.js';
import { stratifiedSplit } from './split.js';

export const IMAGE_COLUMN = 'image_name';
export const BBOX_COLUMNS = ['BBox_xmin', 'BBox_ymin', 'BBox_xmax', 'BBox_ymax'] as const;

export interface ImportRequest {
  csvPath: string;
  /** Folder the CSV's image_name values are relative to; default: `images/` beside the CSV, else the CSV's folder. */
  imageRoot?: string;
  name?: string;
  /** A JSON/YAML label schema; default: `<csv stem>.schema.{json,yaml,yml}` beside the CSV, else Fashion-How's. */
  labelSchemaPath?: string;
  /** Import the good rows and store the bad ones as rejects, instead of importing nothing. */
  skipInvalid?: boolean;
  splitSeed?: number;
  validationFraction?: number;
  /** Share held out as TEST (default 0): for fitting on VALIDATION and reporting on TEST, e.g. 0.15 + 0.15. */
  testFraction?: number;
  /** What this dataset's models are ranked by (default MEAN_TOP1, the Fashion-How sensibility task's). */
  rankingMetric?: RankingMetric;
}

export const RANKING_METRICS = ['MEAN_TOP1', 'MEAN_ACSA'] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];

export interface RowReject {
  /** 1-based line in the CSV file; the header is line 1. */
  line: number;
  reason: string;
  row: string;
}

export interface ImportProgress {
  phase: 'validate' | 'store';
  done: number;
  total: number;
}

export interface ImportOutcome {
  datasetId: number;
  /** False when the same CSV (by content hash) was imported before; nothing new was stored. */
  created: boolean;
  itemCount: number;
  rejects: RowReject[];
  durationMs: number;
}

interface ValidRow {
  line: number;
  imagePath: string;
  bbox: Bbox;
  image: ImageInfo;
  labels: number[];
}

export const DEFAULT_SPLIT_SEED = 42;
export const DEFAULT_VALIDATION_FRACTION = 0.25;
const REJECTS_IN_MESSAGE = 20;

export class ImportRejectedError extends AppError {
  constructor(
    readonly rejects: RowReject[],
    totalRows: number,
  ) {
    const shown = rejects.slice(0, REJECTS_IN_MESSAGE).map((r) => `  line ${r.line}: ${r.reason}`);
    if (rejects.length > REJECTS_IN_MESSAGE) shown.push(`  ... and ${rejects.length - REJECTS_IN_MESSAGE} more`);
    super(
      ErrorCode.BAD_USER_INPUT,
      `${rejects.length} of ${totalRows} rows are invalid, so nothing was imported ` +
        `(use skipInvalid to import the ${totalRows - rejects.length} valid rows and keep the rejects):\n${shown.join('\n')}`,
      { rejects },
    );
    this.name = 'ImportRejectedError';
  }
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

function defaultImageRoot(csvPath: string): string {
  const beside = path.join(path.dirname(csvPath), 'images');
  return existsSync(beside) ? beside : path.dirname(csvPath);
}

class RowValidator {
  private readonly images = new Map<string, Promise<ImageInfo | string>>();
  private readonly columnIndex: Map<string, number>;

  constructor(
    private readonly root: string,
    private readonly realRoot: string,
    header: string[],
    private readonly schema: LabelSchemaSpec,
    private readonly limits: ImageLimits,
  ) {
    this.columnIndex = new Map(header.map((name, i) => [name.trim(), i]));
    const required = [IMAGE_COLUMN, ...BBOX_COLUMNS, ...schema.tasks.map((t) => t.column)];
    const missing = required.filter((c) => !this.columnIndex.has(c));
    if (missing.length > 0) {
      throw badInput(`the CSV header lacks column(s) ${missing.join(', ')}; expected ${required.join(',')}`);
    }
  }

  private cell(record: string[], column: string): string {
    return (record[this.columnIndex.get(column)!] ?? '').trim();
  }

  /** Decodes each distinct image once, however many rows refer to it. */
  private image(file: string): Promise<ImageInfo | string> {
    let pending = this.images.get(file);
    if (!pending) {
      pending = (async () => {
        const found = await stat(file).catch(() => null);
        if (!found?.isFile()) return 'image file not found under the image root';
        const real = await realpath(file);
        if (!real.startsWith(this.realRoot + path.sep)) return 'image path resolves (through a symbolic link) outside the image root';
        try {
          return await inspectImage(file, this.limits);
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
    for (const task of this.schema.tasks) {
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

export interface ImportContext {
  db: Db;
  imageLimits: ImageLimits;
  concurrency: number;
  onProgress?: (progress: ImportProgress) => void;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function parseCsv(bytes: Buffer, csvPath: string): { record: string[]; line: number; raw: string }[] {
  try {
    const parsed = parse(bytes, { bom: true, info: true, raw: true, relax_column_count: true, skip_empty_lines: true }) as unknown as {
      record: string[];
      info: { lines: number };
      raw: string;
    }[];
    return parsed.map(({ record, info, raw }) => ({ record, line: info.lines, raw: raw.replace(/\r?\n$/, '') }));
  } catch (error) {
    throw badInput(`${path.basename(csvPath)} is not a readable CSV: ${(error as Error).message}`);
  }
}

export async function importDataset(request: ImportRequest, context: ImportContext): Promise<ImportOutcome> {
  const started = performance.now();
  const { db } = context;
  const csvPath = path.resolve(request.csvPath);
  const validationFraction = request.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  const rankingMetric = request.rankingMetric ?? 'MEAN_TOP1';
  if (!RANKING_METRICS.includes(rankingMetric)) throw badInput(`rankingMetric must be one of ${RANKING_METRICS.join(', ')}, got "${rankingMetric}"`);
  const splitSeed = request.splitSeed ?? DEFAULT_SPLIT_SEED;
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw badInput(`validationFraction must be at least 0 and below 1, got ${validationFraction}`);
  }
  const testFraction = request.testFraction ?? 0;
  if (!(testFraction >= 0 && validationFraction + testFraction < 1)) {
    throw badInput(
      `testFraction must be at least 0 and leave items to train on (validationFraction + testFraction below 1), got ${testFraction} with validationFraction ${validationFraction}`,
    );
  }
  if (!Number.isInteger(splitSeed)) throw badInput(`splitSeed must be an integer, got ${splitSeed}`);

  const bytes = await readFile(csvPath).catch(() => {
    throw badInput(`CSV file ${request.csvPath} does not exist or cannot be read`);
  });
  const csvSha256 = sha256(bytes);
  const existing = await db.dataset.findUnique({ where: { csvSha256 } });
  if (existing) {
    return { datasetId: existing.id, created: false, itemCount: existing.itemCount, rejects: [], durationMs: performance.now() - started };
  }

  const schema = await resolveLabelSchema(csvPath, request.labelSchemaPath);
  const imageRoot = path.resolve(request.imageRoot ?? defaultImageRoot(csvPath));
  const rootStat = await stat(imageRoot).catch(() => null);
  if (!rootStat?.isDirectory()) throw badInput(`image root ${request.imageRoot ?? imageRoot} is not a folder`);

  const [header, ...rows] = parseCsv(bytes, csvPath);
  if (!header) throw badInput(`${path.basename(csvPath)} is empty; expected a header line and at least one row`);
  if (rows.length === 0) throw badInput(`${path.basename(csvPath)} has a header but no rows`);
  const validator = new RowValidator(imageRoot, await realpath(imageRoot), header.record, schema, context.imageLimits);

  const limit = pLimit(context.concurrency);
  let done = 0;
  const checked = await Promise.all(
    rows.map((row) =>
      limit(async () => {
        const result = await validator.validate(row.record, row.line, header.record.length);
        context.onProgress?.({ phase: 'validate', done: ++done, total: rows.length });
        return result;
      }),
    ),
  );
  const valid: ValidRow[] = [];
  const rejects: RowReject[] = [];
  checked.forEach((result, i) => {
    if (typeof result === 'string') rejects.push({ line: rows[i]!.line, reason: result, row: rows[i]!.raw });
    else valid.push(result);
  });
  if (rejects.length > 0 && !request.skipInvalid) throw new ImportRejectedError(rejects, rows.length);
  if (valid.length === 0) throw new ImportRejectedError(rejects, rows.length);

  const splits = stratifiedSplit(
    valid.map((v) => v.labels),
    validationFraction,
    splitSeed,
    testFraction,
  );
  context.onProgress?.({ phase: 'store', done: 0, total: valid.length });
  try {
    const datasetId = await db.$transaction(
      async (tx) => {
        const fingerprint = schemaFingerprint(schema);
        const labelSchema = await tx.labelSchema.upsert({
          where: { fingerprint },
          create: { name: schema.name, fingerprint, tasks: schema.tasks as object[] },
          update: {},
        });
        const dataset = await tx.dataset.create({
          data: {
            name: request.name?.trim() || path.basename(csvPath, path.extname(csvPath)),
            csvPath,
            imageRoot,
            csvSha256,
            labelSchemaId: labelSchema.id,
            splitSeed,
            validationFraction,
            testFraction,
            rankingMetric,
            itemCount: valid.length,
            rejectCount: rejects.length,
            importMs: 0,
          },
        });
        const items = await tx.item.createManyAndReturn({
          data: valid.map((v, i) => ({
            datasetId: dataset.id,
            line: v.line,
            imagePath: v.imagePath,
            ...v.bbox,
            imageWidth: v.image.width,
            imageHeight: v.image.height,
            split: splits[i]!,
          })),
          select: { id: true, line: true, split: true },
        });
        const idByLine = new Map(items.map((item) => [item.line, item]));
        await tx.itemLabel.createMany({
          data: valid.flatMap((v) => {
            const item = idByLine.get(v.line)!;
            return v.labels.map((classIndex, task) => ({ itemId: item.id, datasetId: dataset.id, split: item.split as Split, task, classIndex }));
          }),
        });
        if (rejects.length > 0) {
          await tx.importReject.createMany({ data: rejects.map((r) => ({ datasetId: dataset.id, ...r })) });
        }
        await tx.dataset.update({ where: { id: dataset.id }, data: { importMs: Math.round(performance.now() - started) } });
        return dataset.id;
      },
      { timeout: 10 * 60_000, maxWait: 60_000 },
    );
    context.onProgress?.({ phase: 'store', done: valid.length, total: valid.length });
    return { datasetId, created: true, itemCount: valid.length, rejects, durationMs: performance.now() - started };
  } catch (error) {
    // A concurrent import of the same CSV won the race: report its dataset instead of failing.
    if ((error as { code?: string }).code === 'P2002') {
      const winner = await db.dataset.findUnique({ where: { csvSha256 } });
      if (winner) return { datasetId: winner.id, created: false, itemCount: winner.itemCount, rejects: [], durationMs: performance.now() - started };
    }
    throw error;
  }
}
