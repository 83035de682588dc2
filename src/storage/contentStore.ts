// The content-addressed store's contract and its shared half: every object is named by the sha256 of its
// bytes, so any host can ask for exactly the bytes a database row names and prove it got them. Objects
// live in a folder (DirectoryStore, here) or an S3-compatible bucket (S3Store, in s3.ts); callers open
// one through artifactStore.ts.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ownedName, ownerGone } from '../scratch.js';

/** What an object is; each kind has its own key space (`<kind>/<sha256>`). `predictions`: a batch
 *  prediction job's table (CSV or JSON lines). */
export const OBJECT_KINDS = ['onnx', 'checkpoint', 'image', 'predictions'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export interface StoredObject {
  sha256: string;
  bytes: number;
}

export interface ArtifactStore {
  /** Where the objects live (a folder or s3://bucket/prefix), for logs and operators, never for clients. */
  readonly location: string;
  /** Stores a local file under the sha256 of its bytes and says what that was. An object already stored
   *  with that sha256 (and size) is not written again; a file that changes while it is read is refused. */
  put(localFile: string, kind: ObjectKind): Promise<StoredObject>;
  /** A local path holding exactly the bytes stored under `sha256`, in this host's cache. The cached copy
   *  is verified on every call, and a download is verified before it enters the cache: a mismatch throws
   *  ArtifactCorruptError and leaves no file behind; an absent object throws ArtifactMissingError.
   *  The file is read-only by contract: from a folder store on the same file system it is a hard link
   *  to the stored object itself (copy it before changing it, e.g. to resume training into it). */
  fetch(sha256: string, kind: ObjectKind): Promise<string>;
  has(sha256: string, kind: ObjectKind): Promise<boolean>;
  /** Deletes one object and this host's cached copy; nothing happens when there is none. Only for an
   *  object no row names (pendingObjects.ts): in a content-addressed store one object may serve many rows. */
  remove(sha256: string, kind: ObjectKind): Promise<void>;
  /** Where one object lives (a file path or an s3:// URL): a record for operators, not a way to read it. */
  locationOf(sha256: string, kind: ObjectKind): string;
  /** Waits for the puts and fetches in flight (so none writes into the cache after it), then frees the client. */
  close(): Promise<void>;
  /** Removes the partial files (downloads into this host's cache; for a folder store, writes beside their
   *  final name) of processes that are gone: a process killed mid-transfer leaves one. The names removed. */
  sweepPartials(): Promise<string[]>;
}

/** A temporary file's name while its bytes are being written: its owner's process id in it, so the
 *  start-up sweep can tell a gone process's leftover from a transfer in flight. */
const partialName = (prefix: string) => `${prefix}.${ownedName(randomUUID())}.part`;
/** The owner in a partialName ('' for one from before names carried it: removed too). */
const PARTIAL = /^\.?[0-9a-f]{64}\.(?:(.+)~)?[0-9a-f-]{36}\.part$/;

/** Removes, in each kind's folder under `root`, the partial files whose owner is gone. */
async function sweepPartialsUnder(root: string): Promise<string[]> {
  const removed: string[] = [];
  for (const kind of OBJECT_KINDS) {
    const folder = path.join(root, kind);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const owner = PARTIAL.exec(name);
      if (!owner) continue;
      const info = await stat(path.join(folder, name)).catch(() => null);
      if (!info || !ownerGone(owner[1] ?? '', info.mtimeMs)) continue;
      await rm(path.join(folder, name), { force: true });
      removed.push(`${kind}/${name}`);
    }
  }
  return removed;
}

/** A store operation failed. `reason` is short and names no path or address, so callers may show it. */
export class ArtifactStoreError extends Error {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'ArtifactStoreError';
  }
}

export class ArtifactMissingError extends ArtifactStoreError {
  constructor(
    readonly kind: ObjectKind,
    readonly sha256: string,
  ) {
    super(`the artifact store has no ${kind} object with sha256 ${sha256}`, 'missing');
    this.name = 'ArtifactMissingError';
  }
}

export class ArtifactCorruptError extends ArtifactStoreError {
  constructor(
    readonly kind: ObjectKind,
    readonly sha256: string,
    /** The sha256 of the bytes actually found. */
    readonly actual: string,
  ) {
    super(`the artifact store's ${kind} object ${sha256} holds other bytes (sha256 ${actual}): it was changed after it was stored, and is not used`, 'corrupt');
    this.name = 'ArtifactCorruptError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

export function checkKey(sha256: string, kind: ObjectKind) {
  if (!SHA256.test(sha256)) throw new ArtifactStoreError(`"${sha256}" is not a sha256 (64 lowercase hex digits)`, 'bad sha256');
  if (!OBJECT_KINDS.includes(kind)) throw new ArtifactStoreError(`unknown object kind "${kind}"; choose one of: ${OBJECT_KINDS.join(', ')}`, 'bad kind');
}

/** A pass-through stream that hashes and counts what flows through it. */
export function hashing() {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest('hex'), bytes }) };
}

export async function hashFile(file: string): Promise<StoredObject> {
  const { stream, digest } = hashing();
  await pipeline(createReadStream(file), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const _chunk of source); // drain: only the hash is wanted
  });
  return digest();
}

/** Writes `source` to a new file `file`, flushed to disk, and returns the sha256 of what was written. */
export async function writeHashed(source: Readable, file: string): Promise<StoredObject> {
  const { stream, digest } = hashing();
  await pipeline(source, stream, createWriteStream(file, { flags: 'wx' }));
  const handle = await open(file, 'r');
  try {
    await handle.sync(); // a rename after a crash must not expose a file whose blocks never reached the disk
  } finally {
    await handle.close();
  }
  return digest();
}

export const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException)?.code;

/** The shared half of both stores: hashing on put, and the verified local cache behind fetch. */
export abstract class ContentStore implements ArtifactStore {
  abstract readonly location: string;

  constructor(private readonly cacheDir: string) {}

  /** The stored object's size, or null when there is none. */
  protected abstract sizeOf(sha256: string, kind: ObjectKind): Promise<number | null>;
  /** Stores the file whose bytes hash to `expected`; refuses (and leaves nothing) if they no longer do. */
  protected abstract upload(localFile: string, expected: StoredObject, kind: ObjectKind): Promise<void>;
  /** Writes the stored object to the new local file `into` and returns the sha256 of what it wrote. */
  protected abstract download(sha256: string, kind: ObjectKind, into: string): Promise<string>;
  /** Deletes the stored object; none there is no error. */
  protected abstract deleteObject(sha256: string, kind: ObjectKind): Promise<void>;
  abstract locationOf(sha256: string, kind: ObjectKind): string;

  /** Puts and fetches not yet settled: a fetch whose caller gave up (a request the client dropped) still
   *  writes into the cache, and closing must not pull the folder or the client out from under it. */
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Set when close() begins: a request handler still running after its server closed (it was awaiting
   *  something else meanwhile) would otherwise start a fetch that writes into the cache after close()
   *  returned, while the host removes the folder or another process takes it over. */
  private closing = false;

  private track<T>(start: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new ArtifactStoreError('the artifact store is closed: this process is shutting down', 'closed'));
    const operation = start();
    this.inFlight.add(operation);
    const settled = () => this.inFlight.delete(operation);
    operation.then(settled, settled);
    return operation;
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.release();
  }

  /** Frees what the store holds open (a client's sockets); called once nothing is in flight. */
  protected release(): void {}

  sweepPartials(): Promise<string[]> {
    return sweepPartialsUnder(this.cacheDir);
  }

  put(localFile: string, kind: ObjectKind): Promise<StoredObject> {
    return this.track(() => this.putNow(localFile, kind));
  }

  fetch(sha256: string, kind: ObjectKind): Promise<string> {
    return this.track(() => this.fetchNow(sha256, kind));
  }

  private async putNow(localFile: string, kind: ObjectKind): Promise<StoredObject> {
    // The key is the content's hash, so the file is read once to name it and once to store it; the
    // second read is hashed too, which catches a file rewritten in between.
    const object = await hashFile(localFile);
    checkKey(object.sha256, kind);
    // A same-sized object under the same sha256 is this one (a different size is a torn or damaged
    // write, replaced here); damage that keeps the size is caught by fetch's verification.
    if ((await this.sizeOf(object.sha256, kind)) === object.bytes) return object;
    await this.upload(localFile, object, kind);
    return object;
  }

  remove(sha256: string, kind: ObjectKind): Promise<void> {
    checkKey(sha256, kind);
    return this.track(async () => {
      await this.deleteObject(sha256, kind);
      await rm(path.join(this.cacheDir, kind, sha256), { force: true });
    });
  }

  async has(sha256: string, kind: ObjectKind): Promise<boolean> {
    checkKey(sha256, kind);
    return (await this.sizeOf(sha256, kind)) !== null;
  }

  private async fetchNow(sha256: string, kind: ObjectKind): Promise<string> {
    checkKey(sha256, kind);
    const cached = path.join(this.cacheDir, kind, sha256);
    // The cached copy is hashed on every fetch rather than trusted once verified: a fetch comes before a
    // model is loaded (once per process) or a run resumes, when one sequential read of a local file is
    // cheap next to what follows, and a disk or a person that altered the cache is caught every time.
    const found = await hashFile(cached).catch((error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return null;
      throw new ArtifactStoreError(
        `the local cache of the artifact store cannot be read (${errnoOf(error) ?? (error as Error).message})`,
        errnoOf(error) ?? 'cache unreadable',
      );
    });
    if (found?.sha256 === sha256) return cached;
    if (found) await rm(cached, { force: true }); // bytes that changed in the cache are never served
    await mkdir(path.dirname(cached), { recursive: true });
    // A download lands under a temporary name and is renamed only once verified, so a reader (this
    // process or another one sharing the cache) never sees a partial or wrong file under the real name.
    const temporary = partialName(cached);
    try {
      const actual = await this.download(sha256, kind, temporary);
      if (actual !== sha256) throw new ArtifactCorruptError(kind, sha256, actual);
      await rename(temporary, cached);
      return cached;
    } finally {
      await rm(temporary, { force: true });
    }
  }
}

/** Objects as files under a folder (`<root>/<kind>/<sha256>`): a local disk or any shared mount. */
export class DirectoryStore extends ContentStore {
  constructor(
    readonly root: string,
    cacheDir: string,
  ) {
    super(cacheDir);
  }

  get location(): string {
    return this.root;
  }

  locationOf(sha256: string, kind: ObjectKind): string {
    checkKey(sha256, kind);
    return path.join(this.root, kind, sha256);
  }

  override async sweepPartials(): Promise<string[]> {
    return [...(await super.sweepPartials()), ...(await sweepPartialsUnder(this.root))];
  }

  private failed(action: string, sha256: string, kind: ObjectKind, error: unknown): ArtifactStoreError {
    // The code only: Node's message names the file, and this message may reach a client (a run's error).
    const code = errnoOf(error) ?? 'error';
    return new ArtifactStoreError(`the artifact store could not ${action} ${kind} object ${sha256} (${code})`, code);
  }

  protected async sizeOf(sha256: string, kind: ObjectKind): Promise<number | null> {
    try {
      return (await stat(this.locationOf(sha256, kind))).size;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null;
      throw this.failed('look up', sha256, kind, error);
    }
  }

  protected async upload(localFile: string, expected: StoredObject, kind: ObjectKind): Promise<void> {
    const target = this.locationOf(expected.sha256, kind);
    // Written beside its final name (same file system, so the rename is atomic), under a name no reader asks for.
    const temporary = path.join(path.dirname(target), partialName(`.${expected.sha256}`));
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const written = await writeHashed(createReadStream(localFile), temporary);
      if (written.sha256 !== expected.sha256)
        throw new ArtifactStoreError(
          `the file changed while it was stored (sha256 ${written.sha256}, first read as ${expected.sha256}); nothing was stored`,
          'changed while stored',
        );
      await rename(temporary, target);
    } catch (error) {
      throw error instanceof ArtifactStoreError ? error : this.failed('write', expected.sha256, kind, error);
    } finally {
      await rm(temporary, { force: true });
    }
  }

  protected async deleteObject(sha256: string, kind: ObjectKind): Promise<void> {
    await rm(this.locationOf(sha256, kind), { force: true }).catch((error: unknown) => {
      throw this.failed('delete', sha256, kind, error);
    });
  }

  protected async download(sha256: string, kind: ObjectKind, into: string): Promise<string> {
    const source = this.locationOf(sha256, kind);
    try {
      // On the same file system the cache entry is a hard link: nothing is stored twice. A link shares
      // the bytes, so damage to one is damage to both, and the hash below (and on every fetch) sees it.
      await link(source, into);
      return (await hashFile(into)).sha256;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new ArtifactMissingError(kind, sha256);
      if (errnoOf(error) !== 'EXDEV' && errnoOf(error) !== 'EPERM' && errnoOf(error) !== 'ENOTSUP' && errnoOf(error) !== 'EMLINK')
        throw this.failed('read', sha256, kind, error);
    }
    // Another file system (a network mount, a separate cache disk): copy, hashing as it arrives.
    try {
      return (await writeHashed(createReadStream(source), into)).sha256;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new ArtifactMissingError(kind, sha256);
      throw this.failed('read', sha256, kind, error);
    }
  }
}
