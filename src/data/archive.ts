// Unpacks a dataset archive (.zip, .tar or .tar.gz) someone else made into a scratch folder, checking
// what an untrusted archive can do wrong before (and while) its bytes land: too many entries, too many
// expanded bytes, an expansion ratio no photo archive has (zip bombs), names that leave the folder
// (absolute, `..`, drive letters, backslashes), links and devices, duplicate names. Nothing is ever
// created but plain folders and plain files, each opened exclusively under the scratch folder, so no
// entry can write through another. The pixels of each image are the import's row validation's to check.
// The one module that reads archives (yauzl for zip, tar-stream for tar); tar.gz is gunzipped on the way.
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { AppError, ErrorCode } from '../errors.js';

export interface ArchiveLimits {
  /** Entries (files and folders) in one archive. */
  maxEntries: number;
  /** Bytes of all files once unpacked. */
  maxExpandedBytes: number;
  /** Unpacked bytes per archive byte. */
  maxCompressionRatio: number;
}

/** Each limit's setting, so that a refusal names what an operator may raise. */
export const ARCHIVE_LIMIT_NAMES = {
  maxEntries: 'FASHION_HOW_MAX_ARCHIVE_ENTRIES',
  maxExpandedBytes: 'FASHION_HOW_MAX_ARCHIVE_EXPANDED_BYTES',
  maxCompressionRatio: 'FASHION_HOW_MAX_COMPRESSION_RATIO',
} as const;

export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz';

export interface UnpackProgress {
  entries: number;
  bytes: number;
}

/** An archive refused: the message names the entry (as the archive spells it) and the limit. */
export class ArchiveRefusedError extends AppError {
  constructor(message: string) {
    super(ErrorCode.BAD_USER_INPUT, `the archive was refused, nothing was imported: ${message}`);
    this.name = 'ArchiveRefusedError';
  }
}

const refuse = (message: string) => new ArchiveRefusedError(message);

/** The format, from the first bytes (names lie; a .zip that is a tar is still read as a tar). */
export async function archiveFormat(file: string): Promise<ArchiveFormat> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x06054b50) throw refuse('the zip archive is empty');
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
    throw refuse('it is not a .zip, .tar or .tar.gz archive (its first bytes are none of those formats)');
  } finally {
    await handle.close();
  }
}

/** Parts of an entry's name, or why the name may not be unpacked. Folders end with '/'. */
export function entryProblem(name: string): string | null {
  const shown = JSON.stringify(name.slice(0, 200));
  if (name === '' || name.includes('\0')) return `an entry has an empty name or a NUL byte in it (${shown})`;
  if (name.includes('\\')) return `entry ${shown} has a backslash in its name; archive names use "/"`;
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return `entry ${shown} is an absolute path; entries must be relative to the archive`;
  if (name.split('/').includes('..')) return `entry ${shown} contains "..", which would leave the archive's folder`;
  if (Buffer.byteLength(name) > 1024) return `entry ${shown}... has a name over 1024 bytes`;
  return null;
}

/** Files macOS and Windows add to archives; skipped, not refused. */
const isClutter = (name: string) => name.startsWith('__MACOSX/') || path.posix.basename(name) === '.DS_Store' || path.posix.basename(name) === 'Thumbs.db';

/** Keeps the running totals and refuses the moment one crosses its limit. */
class Budget {
  entries = 0;
  bytes = 0;
  private streamBytes = 0;
  private readonly seen = new Set<string>();

  constructor(
    private readonly limits: ArchiveLimits,
    private readonly archiveBytes: number,
    private readonly onProgress?: (progress: UnpackProgress) => void,
  ) {}

  /** A count the archive states up front (a zip's central directory), refused before anything is read. */
  declareEntries(count: number) {
    if (count > this.limits.maxEntries) throw this.tooMany();
  }

  private tooMany() {
    return refuse(`it has more than ${this.limits.maxEntries} entries (limit ${ARCHIVE_LIMIT_NAMES.maxEntries})`);
  }

  entry(name: string) {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) throw this.tooMany();
    const problem = entryProblem(name);
    if (problem) throw refuse(problem);
    const key = name.replace(/\/+$/, '');
    if (!name.endsWith('/') && this.seen.has(key)) throw refuse(`entry ${JSON.stringify(name)} appears twice`);
    this.seen.add(key);
  }

  /** Counts `bytes` more unpacked bytes, as headers declare them (writeEntry holds each entry to its own). */
  grow(bytes: number) {
    this.bytes += bytes;
    if (this.bytes > this.limits.maxExpandedBytes)
      throw refuse(`it unpacks to more than ${this.limits.maxExpandedBytes} bytes (limit ${ARCHIVE_LIMIT_NAMES.maxExpandedBytes})`);
    if (this.bytes > this.limits.maxCompressionRatio * Math.max(this.archiveBytes, 1) && this.bytes > 1024 * 1024)
      throw refuse(
        `it unpacks to more than ${this.limits.maxCompressionRatio} times its own ${this.archiveBytes} bytes, as a zip bomb does (limit ${ARCHIVE_LIMIT_NAMES.maxCompressionRatio})`,
      );
  }

  /** Counts `bytes` more of a tar's own stream (after gunzip). Zero blocks and pax or long-name records
   *  reach no entry's size (tar-stream skips them), yet cost as much to inflate and parse as photos do, so
   *  the stream itself is held to the same limits, with 1024 bytes of headers allowed per entry. */
  stream(bytes: number) {
    this.streamBytes += bytes;
    const { maxEntries, maxExpandedBytes, maxCompressionRatio } = this.limits;
    if (this.streamBytes > maxExpandedBytes + 1024 * maxEntries)
      throw refuse(
        `its tar stream is over ${maxExpandedBytes} bytes plus 1024 bytes of headers per allowed entry (limit ${ARCHIVE_LIMIT_NAMES.maxExpandedBytes})`,
      );
    const beyondHeaders = this.streamBytes - 1024 * this.entries;
    if (beyondHeaders > maxCompressionRatio * Math.max(this.archiveBytes, 1) && beyondHeaders > 1024 * 1024)
      throw refuse(
        `its tar stream inflates to more than ${maxCompressionRatio} times the archive's own ${this.archiveBytes} bytes, most of it no entry's data, as a zip bomb does (limit ${ARCHIVE_LIMIT_NAMES.maxCompressionRatio})`,
      );
  }

  progress() {
    this.onProgress?.({ entries: this.entries, bytes: this.bytes });
  }

  /** `unpacked` of the checked entries are written. */
  progressOf(unpacked: number) {
    this.onProgress?.({ entries: unpacked, bytes: this.bytes });
  }
}

/** Where an entry lands under `into`: always inside it (entryProblem has refused anything else). */
function target(into: string, name: string): string {
  const file = path.resolve(into, ...name.split('/').filter(Boolean));
  if (file !== into && !file.startsWith(into + path.sep)) throw refuse(`entry ${JSON.stringify(name)} would leave the archive's folder`);
  return file;
}

/** Holds a stream's first error from the moment the stream exists. yauzl's entry streams inflate (and
 *  check their declared size) before anyone reads them, and tar-stream's fail with their archive, while the
 *  write attaches its pipeline only after making the file: an 'error' that nobody hears ends the process. */
function holdErrors(stream: Readable): () => Error | undefined {
  let first: Error | undefined;
  stream.on('error', (error: Error) => {
    first ??= error;
  });
  return () => first;
}

/** What an entry's failed write is called in the refusal. */
function entryRefusal(name: string, declared: number, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // yauzl's validateEntrySizes: the entry inflates past the size both its headers declared (and the budget counted).
  if (message.startsWith('too many bytes in the stream')) return refuse(`entry ${JSON.stringify(name)} holds more bytes than its header says (${declared})`);
  return refuse(`entry ${JSON.stringify(name)} cannot be unpacked (${message})`);
}

/** Writes an entry's stream to a new file (never an existing one), no more than the `declared` bytes the
 *  budget counted; `failure` is the stream's held error (holdErrors). The stream is destroyed on any refusal. */
async function writeEntry(name: string, stream: Readable, failure: () => Error | undefined, file: string, declared: number) {
  let handle: FileHandle | undefined;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    handle = await open(file, 'wx', 0o600);
    // What the stream did while the file was being made shows here, before pipeline listens. A stream
    // destroyed without an error would leave pipeline waiting for a 'close' already past.
    const early = failure() ?? (stream.destroyed ? new Error('its stream was closed before it was read') : undefined);
    if (early) throw early;
    let written = 0;
    await pipeline(
      stream,
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          written += chunk.length;
          // The declared size was counted already; a lying header must not add bytes the budget never saw.
          if (written > declared) done(refuse(`entry ${JSON.stringify(name)} holds more bytes than its header says (${declared})`));
          else done(null, chunk);
        },
      }),
      handle.createWriteStream(),
    );
  } catch (error) {
    stream.destroy();
    throw entryRefusal(name, declared, error);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

const ZIP_TYPE_MASK = 0o170000;
// A Map, not an object literal: a linter's fix once rewrote octal keys of an object into wrong decimals.
const ZIP_TYPES = new Map<number, string>([
  [0o120000, 'a symbolic link'],
  [0o020000, 'a device'],
  [0o060000, 'a device'],
  [0o010000, 'a pipe'],
  [0o140000, 'a socket'],
]);

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: false }, (error, zip) =>
      error ? reject(refuse(`it is not a readable zip archive (${error.message})`)) : resolve(zip),
    ),
  );
}

/** The zip's entries, from its central directory, before any is unpacked. */
function zipEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (error: Error) => reject(refuse(`it is not a readable zip archive (${error.message})`)));
    zip.readEntry();
  });
}

const zipName = (entry: yauzl.Entry) =>
  // Bit 11: the name is UTF-8; otherwise CP437, of which ASCII (what matters for the checks) is the same.
  Buffer.isBuffer(entry.fileName) ? (entry.fileName as Buffer).toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1') : String(entry.fileName);

async function unpackZip(file: string, into: string, budget: Budget) {
  const zip = await openZip(file);
  try {
    // The central directory says everything up front: every name, type and size is checked before one
    // byte is unpacked. validateEntrySizes then holds each entry to the size it declared.
    budget.declareEntries(zip.entryCount);
    const entries = await zipEntries(zip);
    for (const entry of entries) {
      const name = zipName(entry);
      budget.entry(name);
      const kind = ZIP_TYPES.get((entry.externalFileAttributes >>> 16) & ZIP_TYPE_MASK);
      if (kind) throw refuse(`entry ${JSON.stringify(name)} is ${kind}; only files and folders are unpacked`);
      if (entry.generalPurposeBitFlag & 0x1) throw refuse(`entry ${JSON.stringify(name)} is encrypted`);
      budget.grow(entry.uncompressedSize);
    }
    let written = 0;
    for (const entry of entries) {
      const name = zipName(entry);
      if (name.endsWith('/') || isClutter(name)) continue;
      const file = target(into, name);
      const { stream, failure } = await new Promise<{ stream: Readable; failure: () => Error | undefined }>((resolve, reject) =>
        zip.openReadStream(entry, (error, opened) =>
          error ? reject(refuse(`entry ${JSON.stringify(name)} cannot be read (${error.message})`)) : resolve({ stream: opened, failure: holdErrors(opened) }),
        ),
      );
      await writeEntry(name, stream, failure, file, entry.uncompressedSize);
      budget.progressOf(++written);
    }
  } finally {
    zip.close();
  }
}

const TAR_KINDS: Record<string, string> = {
  symlink: 'a symbolic link',
  link: 'a hard link',
  'character-device': 'a device',
  'block-device': 'a device',
  fifo: 'a pipe',
};

type TarHeader = tarStream.Header;

/** Calls `onEntry` for each entry of the tar (gunzipped on the way), with the entry's held error
 *  (holdErrors); the stream must be read or resumed. `onStream` sees every byte of the tar stream itself. */
async function readTar(
  file: string,
  gzipped: boolean,
  onEntry: (header: TarHeader, stream: Readable, failure: () => Error | undefined) => Promise<void>,
  onStream?: (bytes: number) => void,
) {
  const extract = tarStream.extract();
  const source = createReadStream(file);
  const counted = (count: (bytes: number) => void) =>
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        try {
          count(chunk.length);
          done(null, chunk);
        } catch (error) {
          done(error as Error);
        }
      },
    });
  // pipeline listens to each of these from here on; its refusal (or the archive's own error) reaches the
  // loop below through extract, which it destroys with that error.
  const feeding = pipeline([source, ...(gzipped ? [createGunzip()] : []), ...(onStream ? [counted(onStream)] : []), extract]).catch((error: unknown) => {
    extract.destroy(error as Error);
  });
  try {
    for await (const entry of extract) {
      const stream = entry as unknown as Readable; // a streamx Readable, which pipeline takes
      await onEntry(entry.header, stream, holdErrors(stream));
    }
  } catch (error) {
    source.destroy();
    throw error instanceof AppError ? error : refuse(`it is not a readable tar archive (${(error as Error).message})`);
  } finally {
    await feeding;
  }
}

const unpacked = (header: TarHeader) => header.type === 'file' || header.type === 'contiguous-file';

async function unpackTar(file: string, into: string, budget: Budget, gzipped: boolean) {
  // A tar states nothing up front, so a first pass reads only the headers (the data is skipped, not
  // written): every name, type and size is checked, and the totals, before the second pass unpacks.
  // The tar stream's own bytes count too (Budget.stream), so a bomb of zero blocks is refused in this pass.
  await readTar(
    file,
    gzipped,
    async (header, stream) => {
      const { name, type } = header;
      budget.entry(type === 'directory' && !name.endsWith('/') ? `${name}/` : name);
      if (type && TAR_KINDS[type]) throw refuse(`entry ${JSON.stringify(name)} is ${TAR_KINDS[type]}; only files and folders are unpacked`);
      if (!unpacked(header) && type !== 'directory') throw refuse(`entry ${JSON.stringify(name)} is a tar "${type}" entry, not a file or folder`);
      budget.grow(header.size ?? 0);
      stream.resume();
    },
    (bytes) => budget.stream(bytes),
  );
  let written = 0;
  await readTar(file, gzipped, async (header, stream, failure) => {
    if (!unpacked(header) || isClutter(header.name)) {
      stream.resume();
      return;
    }
    await writeEntry(header.name, stream, failure, target(into, header.name), header.size ?? 0);
    budget.progressOf(++written);
  });
}

/** Unpacks `file` into the empty folder `into`; refuses (ArchiveRefusedError) at the first problem. The
 *  caller removes `into` either way: a refusal may leave part of the archive there. */
export async function unpackArchive(
  file: string,
  into: string,
  limits: ArchiveLimits,
  onProgress?: (progress: UnpackProgress) => void,
): Promise<UnpackProgress> {
  const format = await archiveFormat(file);
  const budget = new Budget(limits, (await stat(file)).size, onProgress);
  const root = path.resolve(into);
  if (format === 'zip') await unpackZip(file, root, budget);
  else await unpackTar(file, root, budget, format === 'tar.gz');
  budget.progress();
  return { entries: budget.entries, bytes: budget.bytes };
}
