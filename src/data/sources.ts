// Where an import's files may come from over the API, and the checks on each: an uploaded archive
// (unpacked under the archive limits), objects in an allowed bucket (one archive, or a prefix holding
// the CSV, images and schema, under the same limits), and, for admins only, a server folder under
// FASHION_HOW_IMPORT_ROOTS. Each ends as a folder that importDataset validates row by row. A scratch
// folder is removed whatever happens, and no message names a server path: files are named as the
// archive, the bucket or the import root names them.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import type { ImportSettings } from '../config.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { BucketReader } from '../storage/s3.js';
import { ArchiveRefusedError, entryProblem, unpackArchive } from './archive.js';
import { type ImportContext, type ImportOutcome, type ImportProgress, type ImportRequest, importDataset } from './import.js';

export interface SourceContext extends Omit<ImportContext, 'onProgress'> {
  settings: ImportSettings;
  /** Where archives and bucket objects are unpacked while an import runs (on this host's disk). */
  scratchDir: string;
  onProgress?: (progress: ImportProgress | { phase: 'unpack'; done: number; total: number }) => void;
}

/** An import whose files are in an archive or a bucket: names inside it instead of server paths. */
export interface PackedImport extends Omit<ImportRequest, 'csvPath' | 'imageRoot' | 'labelSchemaPath' | 'origin'> {
  /** The CSV's name inside the archive or prefix; default: its only .csv file. */
  csv?: string;
  /** The image folder inside it; default: images/ beside the CSV if there is one, else the CSV's folder. */
  imageFolder?: string;
}

const ARCHIVE_NAME = /\.(zip|tar|tar\.gz|tgz)$/i;

/** Runs `work` in a new scratch folder and removes the folder afterwards, whatever happened. */
async function withScratch<T>(scratchDir: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = path.join(scratchDir, `import-${randomUUID()}`);
  await mkdir(dir, { recursive: true });
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every file under `root`, as '/'-separated names relative to it. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

/** A name inside the unpacked folder, checked like an archive entry, as a path under `root`. */
function inside(root: string, name: string, what: string): string {
  const problem = entryProblem(name.replace(/\/+$/, ''));
  if (problem) throw badInput(`${what}: ${problem}`);
  return path.join(root, ...name.split('/').filter(Boolean));
}

/** Imports the unpacked files under `root`; `label` says where they came from (upload:..., s3://...). */
async function importFolder(root: string, label: string, request: PackedImport, context: SourceContext): Promise<ImportOutcome> {
  const files = await filesUnder(root);
  const csvs = files.filter((f) => f.toLowerCase().endsWith('.csv'));
  let csv: string;
  if (request.csv) {
    csv = request.csv.replace(/^\/+/, '');
    if (!files.includes(csv))
      throw badInput(`${label} has no file ${JSON.stringify(request.csv)} (csv); its CSV files: ${csvs.slice(0, 10).join(', ') || 'none'}`);
  } else if (csvs.length === 1) csv = csvs[0]!;
  else if (csvs.length === 0) throw badInput(`${label} holds no .csv file; a dataset is a CSV, its images and optionally <csv stem>.schema.json`);
  else throw badInput(`${label} holds ${csvs.length} CSV files (${csvs.slice(0, 5).join(', ')}${csvs.length > 5 ? ', ...' : ''}): say which one with csv`);
  const { csv: _csv, imageFolder, ...rest } = request;
  if (imageFolder) {
    const folder = inside(root, imageFolder, 'imageFolder');
    if (!(await stat(folder).catch(() => null))?.isDirectory()) throw badInput(`${label} has no folder ${JSON.stringify(imageFolder)} (imageFolder)`);
  }
  return importDataset(
    {
      ...rest,
      name: request.name ?? path.posix.basename(csv, '.csv'),
      csvPath: inside(root, csv, 'csv'),
      imageRoot: imageFolder ? inside(root, imageFolder, 'imageFolder') : undefined,
      origin: { csv: `${label}#${csv}`, imageRoot: '', shown: (file) => path.relative(root, file).split(path.sep).join('/') || '.' },
    },
    context,
  );
}

/** Imports a dataset archive (already received into `file`); `name` is what its sender called it. */
export function importArchive(file: string, name: string, request: PackedImport, context: SourceContext): Promise<ImportOutcome> {
  return withScratch(context.scratchDir, async (dir) => {
    const root = path.join(dir, 'files');
    await mkdir(root);
    await unpackArchive(file, root, context.settings.archive, (p) => context.onProgress?.({ phase: 'unpack', done: p.entries, total: 0 }));
    return importFolder(root, `upload:${path.basename(name)}`, request, context);
  });
}

/** The allowed bucket prefix that covers s3://bucket/key, or null. */
function allowedBucket(settings: ImportSettings, bucket: string, key: string) {
  return settings.buckets.find((b) => b.bucket === bucket && (b.prefix === '' || key === b.prefix || key.startsWith(`${b.prefix}/`))) ?? null;
}

/** Imports from s3://bucket/key: one archive object (.zip, .tar, .tar.gz, .tgz), or every object under
 *  the prefix key/ (the CSV, the images, a schema). Only buckets in FASHION_HOW_IMPORT_BUCKETS. */
export async function importFromBucket(url: string, request: PackedImport, context: SourceContext): Promise<ImportOutcome> {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url.trim());
  if (!match) throw badInput(`bucket must be an s3://bucket/prefix URL, got ${JSON.stringify(url)}`);
  const bucket = match[1]!;
  const key = (match[2] ?? '').replace(/\/+$/, '');
  if (key !== '' && entryProblem(key)) throw badInput(`bucket ${JSON.stringify(url)}: ${entryProblem(key)}`);
  const { settings } = context;
  if (!allowedBucket(settings, bucket, key))
    throw new AppError(ErrorCode.FORBIDDEN, `${url} is not among the bucket prefixes this server imports from (FASHION_HOW_IMPORT_BUCKETS)`);
  const reader = new BucketReader(settings.s3, bucket);
  const refused = (message: string) => new ArchiveRefusedError(message);
  try {
    return await withScratch(context.scratchDir, async (dir) => {
      if (ARCHIVE_NAME.test(key)) {
        const file = path.join(dir, 'archive');
        if (!(await reader.download(key, file, settings.maxUploadBytes)))
          throw refused(`${url} is over the limit of ${settings.maxUploadBytes} bytes (FASHION_HOW_MAX_UPLOAD_BYTES)`);
        return importArchive(file, path.posix.basename(key), request, context);
      }
      const prefix = key === '' ? '' : `${key}/`;
      const objects = await reader.list(prefix, settings.archive.maxEntries);
      if (objects === 'too many') throw refused(`${url} holds more than ${settings.archive.maxEntries} objects (limit FASHION_HOW_MAX_ARCHIVE_ENTRIES)`);
      const files = objects.filter((o) => !o.key.endsWith('/'));
      const total = files.reduce((sum, o) => sum + o.size, 0);
      if (total > settings.archive.maxExpandedBytes)
        throw refused(`${url} holds ${total} bytes, over the limit of ${settings.archive.maxExpandedBytes} (FASHION_HOW_MAX_ARCHIVE_EXPANDED_BYTES)`);
      const root = path.join(dir, 'files');
      for (const object of files) {
        const problem = entryProblem(object.key.slice(prefix.length));
        if (problem) throw refused(problem);
      }
      const limit = pLimit(8);
      let done = 0;
      await Promise.all(
        files.map((object) =>
          limit(async () => {
            const file = inside(root, object.key.slice(prefix.length), 'object');
            await mkdir(path.dirname(file), { recursive: true });
            // An object that grew since it was listed is held to its listed size.
            if (!(await reader.download(object.key, file, object.size))) throw refused(`s3://${bucket}/${object.key} changed size while it was read`);
            context.onProgress?.({ phase: 'unpack', done: ++done, total: files.length });
          }),
        ),
      );
      return importFolder(root, `s3://${bucket}/${key}`, request, context);
    });
  } catch (error) {
    throw error instanceof AppError ? error : new AppError(ErrorCode.UNAVAILABLE, (error as Error).message);
  } finally {
    reader.close();
  }
}

/** The real path of `given` when it lies under one of `roots` (and exists), with the root it lies under;
 *  otherwise one refusal whether it is missing or outside, so the API cannot probe the server's files. */
export async function underImportRoots(given: string, roots: string[], what: string): Promise<{ file: string; root: string }> {
  const refusal = () =>
    new AppError(
      ErrorCode.FORBIDDEN,
      roots.length === 0
        ? `${what}: this server imports no server paths over the API (FASHION_HOW_IMPORT_ROOTS is empty); upload an archive (uploadDataset) or import from a bucket`
        : `${what} ${JSON.stringify(given)} is not a readable path under this server's import roots (FASHION_HOW_IMPORT_ROOTS)`,
    );
  if (roots.length === 0 || !path.isAbsolute(given)) throw refusal();
  const real = await realpath(given).catch(() => null);
  if (!real) throw refusal();
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => null);
    if (realRoot && (real === realRoot || real.startsWith(realRoot + path.sep))) return { file: real, root: realRoot };
  }
  throw refusal();
}
