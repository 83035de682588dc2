// Imports a Fashion-How CSV plus its image folder. Every row is checked (path stays under the image
// root, the image decodes, the bbox fits, labels are in range) before anything is written; the photos
// then go into the content-addressed store and the rows into one transaction, so an import either
// stores the whole dataset or nothing. The same content imported again (by its content digest) finds the
// dataset it made; changed content under a name already used is that name's next version.
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import pLimit from 'p-limit';
import type { ImageLimits } from '../config.js';
import type { Db } from '../db/client.js';
import type { Split } from '../domain.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { resolveLabelSchema, schemaFingerprint, validateLabelSchema } from './labelSchema.js';
import { contentDigest, type Photos, sha256Of } from './photos.js';
import { RowValidator, type ValidRow } from './rows.js';
import { stratifiedSplit } from './split.js';

export { BBOX_COLUMNS, IMAGE_COLUMN } from './rows.js';

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
  /** A label schema given inline (a parsed JSON document), instead of a file. */
  labelSchema?: unknown;
  /** What the dataset records, and errors show, in place of the server's own paths: an upload's or a
   *  bucket's files sit in a scratch folder that is gone once the import ends. */
  origin?: ImportOrigin;
}

export interface ImportOrigin {
  /** Recorded as the dataset's csvPath (e.g. upload:data.tar.gz#train.csv); default the CSV's path. */
  csv?: string;
  /** Recorded as its imageRoot ('' when the folder does not outlive the import); default the folder's path. */
  imageRoot?: string;
  /** A server path as messages show it (relative to the archive, say). */
  shown(file: string): string;
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
  /** validate: rows checked; photos: photos put in the store; store: rows written. */
  phase: 'validate' | 'photos' | 'store';
  done: number;
  total: number;
}

export interface ImportOutcome {
  datasetId: number;
  /** False when the same content (by content digest) was imported before; nothing new was stored. */
  created: boolean;
  /** The dataset's version under its name (1 for a new name). */
  version: number;
  contentSha256: string;
  itemCount: number;
  rejects: RowReject[];
  durationMs: number;
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

/** images/ beside the CSV if it exists, else the CSV's folder. */
export function defaultImageRoot(csvPath: string): string {
  const beside = path.join(path.dirname(csvPath), 'images');
  return existsSync(beside) ? beside : path.dirname(csvPath);
}

export interface ImportContext {
  db: Db;
  /** Where the photos go: the content-addressed store every host reads them from. */
  photos: Photos;
  imageLimits: ImageLimits;
  /** Most rows one CSV may have (FASHION_HOW_MAX_IMPORT_ROWS). */
  maxRows: number;
  concurrency: number;
  onProgress?: (progress: ImportProgress) => void;
}

function parseCsv(bytes: Buffer, shownCsv: string): { record: string[]; line: number; raw: string }[] {
  try {
    const parsed = parse(bytes, { bom: true, info: true, raw: true, relax_column_count: true, skip_empty_lines: true }) as unknown as {
      record: string[];
      info: { lines: number };
      raw: string;
    }[];
    return parsed.map(({ record, info, raw }) => ({ record, line: info.lines, raw: raw.replace(/\r?\n$/, '') }));
  } catch (error) {
    throw badInput(`${shownCsv} is not a readable CSV: ${(error as Error).message}`);
  }
}

/** Checks the numeric options; returns them with their defaults. */
function splitOptions(request: ImportRequest) {
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
  return { validationFraction, testFraction, splitSeed, rankingMetric };
}

export async function importDataset(request: ImportRequest, context: ImportContext): Promise<ImportOutcome> {
  const started = performance.now();
  const { db } = context;
  const csvPath = path.resolve(request.csvPath);
  const shown = request.origin?.shown ?? ((file: string) => file);
  const { validationFraction, testFraction, splitSeed, rankingMetric } = splitOptions(request);

  const bytes = await readFile(csvPath).catch(() => {
    throw badInput(`CSV file ${shown(csvPath)} does not exist or cannot be read`);
  });
  const schema =
    request.labelSchema !== undefined
      ? validateLabelSchema(request.labelSchema, 'labelSchema')
      : await resolveLabelSchema(csvPath, request.labelSchemaPath, shown);
  const imageRoot = path.resolve(request.imageRoot ?? defaultImageRoot(csvPath));
  const rootStat = await stat(imageRoot).catch(() => null);
  if (!rootStat?.isDirectory()) throw badInput(`image root ${shown(imageRoot)} is not a folder`);

  const shownCsv = path.basename(csvPath);
  const [header, ...rows] = parseCsv(bytes, shownCsv);
  if (!header) throw badInput(`${shownCsv} is empty; expected a header line and at least one row`);
  if (rows.length === 0) throw badInput(`${shownCsv} has a header but no rows`);
  if (rows.length > context.maxRows) throw badInput(`${shownCsv} has ${rows.length} rows, over the limit of ${context.maxRows} (FASHION_HOW_MAX_IMPORT_ROWS)`);
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
  const fingerprint = schemaFingerprint(schema);
  const contentSha256 = contentDigest(
    fingerprint,
    valid.map((v, i) => ({
      imageSha256: v.image.sha256,
      imagePath: v.imagePath,
      bbox: [v.bbox.xmin, v.bbox.ymin, v.bbox.xmax, v.bbox.ymax],
      labels: v.labels,
      split: splits[i]!,
    })),
  );
  const existing = await db.dataset.findFirst({ where: { contentSha256 }, orderBy: { id: 'asc' } });
  if (existing) {
    return {
      datasetId: existing.id,
      created: false,
      version: existing.version,
      contentSha256,
      itemCount: existing.itemCount,
      rejects: [],
      durationMs: performance.now() - started,
    };
  }

  // Photos first: the rows below name them by hash, so every row's photo is in the store before any row is.
  const photos = new Map(valid.map((v) => [v.image.file, v.image.sha256]));
  // Storing is waiting on disk or network (each object is flushed before it is named), not on the CPU.
  await context.photos.putAll(photos, Math.max(16, context.concurrency), (stored, total) => context.onProgress?.({ phase: 'photos', done: stored, total }));
  context.onProgress?.({ phase: 'store', done: 0, total: valid.length });
  const name = request.name?.trim() || path.basename(csvPath, path.extname(csvPath));
  const dataset = await db.$transaction(
    async (tx) => {
      const labelSchema = await tx.labelSchema.upsert({
        where: { fingerprint },
        create: { name: schema.name, fingerprint, tasks: schema.tasks as object[] },
        update: {},
      });
      // Changed content under a name in use is that name's next version, with the latest as its parent.
      const latest = await tx.dataset.findFirst({ where: { name }, orderBy: { version: 'desc' } });
      const dataset = await tx.dataset.create({
        data: {
          name,
          csvPath: request.origin?.csv ?? csvPath,
          imageRoot: request.origin?.imageRoot ?? imageRoot,
          csvSha256: sha256Of(bytes),
          contentSha256,
          labelSchemaId: labelSchema.id,
          splitSeed,
          validationFraction,
          testFraction,
          rankingMetric,
          itemCount: valid.length,
          rejectCount: rejects.length,
          importMs: 0,
          version: (latest?.version ?? 0) + 1,
          parentId: latest?.id ?? null,
        },
      });
      const items = await tx.item.createManyAndReturn({
        data: valid.map((v, i) => ({
          datasetId: dataset.id,
          line: v.line,
          imagePath: v.imagePath,
          imageSha256: v.image.sha256,
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
      return tx.dataset.update({ where: { id: dataset.id }, data: { importMs: Math.round(performance.now() - started) } });
    },
    { timeout: 10 * 60_000, maxWait: 60_000 },
  );
  context.onProgress?.({ phase: 'store', done: valid.length, total: valid.length });
  return {
    datasetId: dataset.id,
    created: true,
    version: dataset.version,
    contentSha256,
    itemCount: valid.length,
    rejects,
    durationMs: performance.now() - started,
  };
}
