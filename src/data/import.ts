// Imports a Fashion-How CSV plus its image folder. Every row is checked (path stays under the image
// root, the image decodes, the bbox fits, labels are in range) before anything is written; the photos
// then go into the content-addressed store and the rows into one transaction, so an import either
// stores the whole dataset or nothing. The same content imported again (by its content digest) finds the
// dataset it made; changed content under a name already used is that name's next version.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse';
import pLimit from 'p-limit';
import type { ImageLimits } from '../config.js';
import type { Db } from '../db/client.js';
import { RANKING_METRICS, type RankingMetric, type Split } from '../domain.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { SETTINGS } from '../settings.js';
import type { PendingObjects } from '../storage/pendingObjects.js';
import { resolveLabelSchema, schemaFingerprint, validateLabelSchema } from './labelSchema.js';
import { contentDigest, type Photos } from './photos.js';
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

export { RANKING_METRICS, type RankingMetric };

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
/** Rejects an error or an import's answer carries, with the count of them all: the 199,999 rejects of a
 *  CSV at the row limit, each with its row, made an 84 MB GraphQL error. All of them are stored with a
 *  dataset imported with skipInvalid (Dataset.rejects pages through them). */
export const REJECTS_SHOWN = 100;
/** Characters of a reject's row or reason shown; a CSV line may be megabytes long. */
const REJECT_TEXT_SHOWN = 300;
const DEFAULT_MAX_CSV_BYTES = SETTINGS.maxCsvBytes.read({}, { dataDir: '', host: '' });

const cut = (text: string) => (text.length > REJECT_TEXT_SHOWN ? `${text.slice(0, REJECT_TEXT_SHOWN)}... (${text.length} characters)` : text);

/** The first REJECTS_SHOWN rejects, each cut to a bounded size: what an answer or an error may carry. */
export const shownRejects = (rejects: readonly RowReject[]): RowReject[] =>
  rejects.slice(0, REJECTS_SHOWN).map((r) => ({ line: r.line, reason: cut(r.reason), row: cut(r.row) }));

export class ImportRejectedError extends AppError {
  constructor(
    readonly rejects: RowReject[],
    totalRows: number,
  ) {
    const shown = rejects.slice(0, REJECTS_IN_MESSAGE).map((r) => `  line ${r.line}: ${cut(r.reason)}`);
    if (rejects.length > REJECTS_IN_MESSAGE) shown.push(`  ... and ${rejects.length - REJECTS_IN_MESSAGE} more`);
    super(
      ErrorCode.BAD_USER_INPUT,
      `${rejects.length} of ${totalRows} rows are invalid, so nothing was imported ` +
        `(use skipInvalid to import the ${totalRows - rejects.length} valid rows and keep the rejects):\n${shown.join('\n')}`,
      { rejects: shownRejects(rejects), rejectCount: rejects.length, rowCount: totalRows },
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
  /** Most bytes one CSV may have (FASHION_HOW_MAX_CSV_BYTES); default the setting's default. */
  maxCsvBytes?: number;
  concurrency: number;
  /** Names the photos put before the rows that name them (see storage/pendingObjects.ts). */
  pending?: PendingObjects;
  onProgress?: (progress: ImportProgress) => void;
}

interface CsvRow {
  record: string[];
  line: number;
  raw: string;
}

/** Reads the CSV as a stream, row by row, counting rows and bytes as they arrive: reading stops at the
 *  first row or byte past a limit, so a CSV of a million rows costs the limit's worth of parsing, not a
 *  million rows held in memory. Parsing runs a chunk at a time between reads, so other requests are
 *  answered meanwhile. Returns the rows (header first) and the file's sha256. */
async function readCsv(csvPath: string, shownCsv: string, shownPath: string, limits: { maxRows: number; maxBytes: number }) {
  // 4 KiB a read (not 64): each chunk, about fifty rows, is parsed in one go between other clients'
  // turns. Measured with a 1,000,000-row CSV refused at its limit while another client classified: its
  // p50 went from 9.0 to 23.0 ms with 64 KiB reads (max 262 ms), from 12.0 to 17.6 ms with 4 KiB (max
  // 62 ms), the refusal taking 5.7 s instead of 2.6 s.
  const source = createReadStream(csvPath, { highWaterMark: 4 * 1024 });
  const hash = createHash('sha256');
  let bytes = 0;
  let overBytes = false;
  source.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
    if (bytes > limits.maxBytes && !overBytes) {
      overBytes = true;
      source.destroy();
    }
  });
  const parser = parse({ bom: true, info: true, raw: true, relax_column_count: true, skip_empty_lines: true });
  const rows: CsvRow[] = [];
  try {
    source.pipe(parser);
    source.once('error', (error) => parser.destroy(error));
    source.once('close', () => {
      if (overBytes) parser.destroy();
    });
    for await (const { record, info, raw } of parser as AsyncIterable<{ record: string[]; info: { lines: number }; raw: string }>) {
      rows.push({ record, line: info.lines, raw: raw.replace(/\r?\n$/, '') });
      // The header is not a row: the limit is on the rows under it.
      if (rows.length - 1 > limits.maxRows) {
        source.destroy();
        throw badInput(
          `${shownCsv} has more than ${limits.maxRows} rows, over the limit of ${limits.maxRows} (FASHION_HOW_MAX_IMPORT_ROWS); reading stopped at line ${info.lines}`,
        );
      }
    }
  } catch (error) {
    source.destroy();
    if (error instanceof AppError) throw error;
    if (overBytes) throw overBytesError(shownCsv, limits.maxBytes);
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'EISDIR' ||
      (error as NodeJS.ErrnoException).code === 'EACCES'
    )
      throw badInput(`CSV file ${shownPath} does not exist or cannot be read`);
    throw badInput(`${shownCsv} is not a readable CSV: ${(error as Error).message}`);
  }
  if (overBytes) throw overBytesError(shownCsv, limits.maxBytes);
  return { rows, sha256: hash.digest('hex') };
}

const overBytesError = (shownCsv: string, maxBytes: number) =>
  badInput(`${shownCsv} is over the limit of ${maxBytes} bytes (FASHION_HOW_MAX_CSV_BYTES); reading stopped there`);

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

  const csvStat = await stat(csvPath).catch(() => null);
  if (!csvStat?.isFile()) throw badInput(`CSV file ${shown(csvPath)} does not exist or cannot be read`);
  const schema =
    request.labelSchema !== undefined
      ? validateLabelSchema(request.labelSchema, 'labelSchema')
      : await resolveLabelSchema(csvPath, request.labelSchemaPath, shown);
  const imageRoot = path.resolve(request.imageRoot ?? defaultImageRoot(csvPath));
  const rootStat = await stat(imageRoot).catch(() => null);
  if (!rootStat?.isDirectory()) throw badInput(`image root ${shown(imageRoot)} is not a folder`);

  const shownCsv = path.basename(csvPath);
  const csv = await readCsv(csvPath, shownCsv, shown(csvPath), { maxRows: context.maxRows, maxBytes: context.maxCsvBytes ?? DEFAULT_MAX_CSV_BYTES });
  const [header, ...rows] = csv.rows;
  if (!header) throw badInput(`${shownCsv} is empty; expected a header line and at least one row`);
  if (rows.length === 0) throw badInput(`${shownCsv} has a header but no rows`);
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

  // A prediction set has nothing to stratify by and nothing to train on: every item is held out as TEST.
  const { labelled } = validator;
  const splits: Split[] = labelled
    ? stratifiedSplit(
        valid.map((v) => v.labels),
        validationFraction,
        splitSeed,
        testFraction,
      )
    : valid.map(() => 'TEST');
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
  // Named in a journal until the rows name them: photos stored by an import that is killed (or fails)
  // before its transaction commits are collected later (storage/pendingObjects.ts), not kept for ever.
  const journal = await context.pending?.open('image');
  const abandon = async (error: unknown): Promise<never> => {
    await journal?.abandon();
    throw error;
  };
  await journal?.add([...new Set(photos.values())]).catch(abandon);
  // Storing is waiting on disk or network (each object is flushed before it is named), not on the CPU.
  await context.photos
    .putAll(photos, Math.max(16, context.concurrency), (stored, total) => context.onProgress?.({ phase: 'photos', done: stored, total }))
    .catch(abandon);
  context.onProgress?.({ phase: 'store', done: 0, total: valid.length });
  const name = request.name?.trim() || path.basename(csvPath, path.extname(csvPath));
  const committing = db.$transaction(
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
          csvSha256: csv.sha256,
          contentSha256,
          labelSchemaId: labelSchema.id,
          splitSeed,
          validationFraction: labelled ? validationFraction : 0,
          testFraction: labelled ? testFraction : 1,
          rankingMetric,
          labelled,
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
  const dataset = await committing.catch(abandon);
  await journal?.settle();
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
