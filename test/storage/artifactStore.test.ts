import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PROCESS_ID } from '../../src/host.js';
import { ArtifactCorruptError, ArtifactMissingError, type ArtifactStore, type ObjectKind, openArtifactStore } from '../../src/storage/artifactStore.js';
import { type S3TestServer, startS3Server } from '../fixtures/s3.js';
import { useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let s3: S3TestServer;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(() => s3?.stop());

const run = promisify(execFile);
const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** What `sha256sum` says, where the tool exists (coreutils): a second, independent hash. */
async function sha256sum(file: string): Promise<string | null> {
  const result = await run('sha256sum', [file]).catch(() => null);
  return result ? result.stdout.split(' ')[0]! : null;
}

interface StoreKind {
  /** The environment that selects this store, as an operator would set it. */
  env(): Record<string, string>;
  /** Writes other bytes under an object's key, behind the store's back. */
  overwrite(store: ArtifactStore, sha256: string, kind: ObjectKind, bytes: Uint8Array): Promise<void>;
}

const kinds: [string, StoreKind][] = [
  [
    'a directory',
    {
      env: () => ({ FASHION_HOW_ARTIFACT_STORE: path.join(scratch.dir, 'shared-mount') }),
      overwrite: (store, sha256, kind, bytes) => writeFile(store.locationOf(sha256, kind), bytes),
    },
  ],
  [
    'S3-compatible object storage',
    {
      env: () => s3.env('team/models'),
      overwrite: (_store, sha256, kind, bytes) => s3.writeObject(`team/models/${kind}/${sha256}`, bytes),
    },
  ],
];

describe.each(kinds)('the artifact store on %s', (_name, kind) => {
  let hosts = 0;
  const opened: ArtifactStore[] = [];
  /** The store as one host sees it: the shared settings, its own data folder (and so its own cache). */
  function host(): { store: ArtifactStore; dataDir: string; env: Record<string, string> } {
    const dataDir = path.join(scratch.dir, `${_name.split(' ')[0]}-host-${++hosts}`);
    const env = { ...kind.env(), FASHION_HOW_DATA_DIR: dataDir };
    const config = loadConfig(env);
    const store = openArtifactStore(config.artifactStore, config.artifactCacheDir);
    opened.push(store);
    return { store, dataDir, env };
  }
  afterAll(() => Promise.all(opened.map((store) => store.close())));

  async function sourceFile(bytes: Uint8Array): Promise<string> {
    const file = path.join(scratch.dir, `source-${sha256Of(bytes)}`);
    await writeFile(file, bytes);
    return file;
  }
  const cacheFiles = async (dataDir: string, kindName: ObjectKind) => readdir(path.join(dataDir, 'cache', 'store', kindName)).catch(() => [] as string[]);

  it('stores a file under the sha256 of its bytes and fetches exactly those bytes back', async () => {
    const { store, dataDir } = host();
    const bytes = randomBytes(300_000); // several stream chunks
    const file = await sourceFile(bytes);
    const put = await store.put(file, 'onnx');
    expect(put).toEqual({ sha256: sha256Of(bytes), bytes: bytes.length });
    const independent = await sha256sum(file);
    if (independent !== null) expect(put.sha256).toBe(independent);
    expect(await store.has(put.sha256, 'onnx')).toBe(true);
    // Checkpoints have their own key space.
    expect(await store.has(put.sha256, 'checkpoint')).toBe(false);

    const fetched = await store.fetch(put.sha256, 'onnx');
    expect(fetched).toBe(path.join(dataDir, 'cache', 'store', 'onnx', put.sha256));
    expect(Buffer.compare(await readFile(fetched), bytes)).toBe(0);
    expect(await store.fetch(put.sha256, 'onnx')).toBe(fetched); // from the cache, still the same bytes
    expect(Buffer.compare(await readFile(fetched), bytes)).toBe(0);
    expect(await cacheFiles(dataDir, 'onnx')).toEqual([put.sha256]); // no temporary file left
  });

  it('closes only once the fetches in flight have settled, so none writes into the cache afterwards', async () => {
    const uploader = host();
    const bytes = randomBytes(2_000_000);
    const { sha256 } = await uploader.store.put(await sourceFile(bytes), 'onnx');
    const { store, dataDir } = host();
    let fetched = false;
    const fetching = store.fetch(sha256, 'onnx').then(() => {
      fetched = true;
    });
    await store.close(); // as the app does when a request that started a model load was dropped
    expect(fetched).toBe(true);
    await fetching;
    expect(await cacheFiles(dataDir, 'onnx')).toEqual([sha256]); // finished, renamed, no .part left
    // A fetch asked for once closing began (a handler that outlived its server) is refused, not started.
    const late = await uploader.store.put(await sourceFile(randomBytes(1000)), 'onnx');
    await expect(store.fetch(late.sha256, 'onnx')).rejects.toMatchObject({ reason: 'closed', message: expect.stringMatching(/closed/) });
    expect(await cacheFiles(dataDir, 'onnx')).toEqual([sha256]);
  });

  it('keeps checkpoints, and another host fetches them by sha256 into its own cache', async () => {
    const trainer = host();
    const resumer = host();
    const bytes = randomBytes(70_000);
    const { sha256 } = await trainer.store.put(await sourceFile(bytes), 'checkpoint');
    expect(await resumer.store.has(sha256, 'checkpoint')).toBe(true);
    expect(await resumer.store.has(sha256, 'onnx')).toBe(false);
    const local = await resumer.store.fetch(sha256, 'checkpoint');
    expect(local.startsWith(resumer.dataDir)).toBe(true);
    expect(Buffer.compare(await readFile(local), bytes)).toBe(0);
    await expect(resumer.store.fetch(sha256, 'onnx')).rejects.toBeInstanceOf(ArtifactMissingError);
  });

  it('does not store an object again that is already there with that sha256', async () => {
    const { store } = host();
    const bytes = randomBytes(50_000);
    const file = await sourceFile(bytes);
    const { sha256 } = await store.put(file, 'onnx');
    // Bytes of the same length written under the key behind the store's back: a second put, which
    // skips what is already there, leaves them, so a fresh host's fetch finds them (and refuses them).
    const same = Buffer.from(bytes).reverse();
    await kind.overwrite(store, sha256, 'onnx', same);
    expect(await store.put(file, 'onnx')).toEqual({ sha256, bytes: bytes.length });
    await expect(host().store.fetch(sha256, 'onnx')).rejects.toBeInstanceOf(ArtifactCorruptError);
    // An object of another length under the key is a torn write: put replaces it, and fetch succeeds.
    await kind.overwrite(store, sha256, 'onnx', bytes.subarray(0, 1000));
    await store.put(file, 'onnx');
    expect(Buffer.compare(await readFile(await host().store.fetch(sha256, 'onnx')), bytes)).toBe(0);
  });

  it('does not serve a cached copy whose bytes changed: it fetches the object again', async () => {
    const { store } = host();
    const bytes = randomBytes(40_000);
    const { sha256 } = await store.put(await sourceFile(bytes), 'onnx');
    const cached = await store.fetch(sha256, 'onnx');
    // Replaced, not rewritten in place: a directory store's cache entry may be a hard link to the object.
    await rm(cached);
    await writeFile(cached, Buffer.alloc(bytes.length, 7));
    expect(await store.fetch(sha256, 'onnx')).toBe(cached);
    expect(sha256Of(await readFile(cached))).toBe(sha256);
  });

  it('refuses an object whose bytes changed in the store, with a clear error, and keeps nothing of it', async () => {
    const { store } = host();
    const bytes = randomBytes(40_000);
    const { sha256 } = await store.put(await sourceFile(bytes), 'onnx');
    const other = randomBytes(40_000);
    await kind.overwrite(store, sha256, 'onnx', other);
    const fresh = host();
    const error = await fresh.store.fetch(sha256, 'onnx').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactCorruptError);
    expect((error as ArtifactCorruptError).actual).toBe(sha256Of(other));
    expect((error as Error).message).toBe(
      `the artifact store's onnx object ${sha256} holds other bytes (sha256 ${sha256Of(other)}): it was changed after it was stored, and is not used`,
    );
    expect(await cacheFiles(fresh.dataDir, 'onnx')).toEqual([]);
    // Refused every time, not only the first.
    await expect(fresh.store.fetch(sha256, 'onnx')).rejects.toBeInstanceOf(ArtifactCorruptError);
    expect(await cacheFiles(fresh.dataDir, 'onnx')).toEqual([]);
  });

  it('answers a missing object with a clear error', async () => {
    const { store, dataDir } = host();
    const absent = sha256Of(Buffer.from('never stored'));
    expect(await store.has(absent, 'onnx')).toBe(false);
    const error = await store.fetch(absent, 'onnx').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactMissingError);
    expect((error as Error).message).toBe(`the artifact store has no onnx object with sha256 ${absent}`);
    expect(await cacheFiles(dataDir, 'onnx')).toEqual([]);
    await expect(store.fetch('../../etc/passwd', 'onnx')).rejects.toThrow('"../../etc/passwd" is not a sha256 (64 lowercase hex digits)');
  });

  it('serves one object to two processes, each into its own cache', async () => {
    const { store } = host();
    const bytes = randomBytes(120_000);
    const { sha256 } = await store.put(await sourceFile(bytes), 'onnx');
    const [a, b] = [host(), host()];
    const answers = await Promise.all(
      [a, b].map(async ({ env }) => {
        const { stdout } = await run(process.execPath, ['--import', 'tsx', new URL('./fetchObject.ts', import.meta.url).pathname, sha256, 'onnx'], {
          env: { PATH: process.env.PATH, ...env },
        });
        return JSON.parse(stdout) as { file: string; sha256: string; bytes: number };
      }),
    );
    expect(answers.map((x) => x.file)).toEqual([a, b].map((h) => path.join(h.dataDir, 'cache', 'store', 'onnx', sha256)));
    for (const answer of answers) {
      expect(answer).toMatchObject({ sha256, bytes: bytes.length });
      expect(Buffer.compare(await readFile(answer.file), bytes)).toBe(0);
      expect((await stat(answer.file)).size).toBe(bytes.length);
    }
  });
});

describe('a directory store and its cache', () => {
  const storeIn = (root: string, cacheDir: string) => openArtifactStore({ kind: 'directory', dir: root }, cacheDir);

  it('links the cache entry to the object on the same file system, so nothing is stored twice', async () => {
    const store = storeIn(path.join(scratch.dir, 'linked-store'), path.join(scratch.dir, 'linked-cache'));
    const bytes = randomBytes(30_000);
    const file = path.join(scratch.dir, 'linked-source');
    await writeFile(file, bytes);
    const { sha256 } = await store.put(file, 'onnx');
    const cached = await store.fetch(sha256, 'onnx');
    expect((await stat(cached)).ino).toBe((await stat(store.locationOf(sha256, 'onnx'))).ino);
    expect((await stat(cached)).nlink).toBe(2);
  });

  it('removes at start-up the partial files a killed process left, in the cache and the store, and keeps those in flight', async () => {
    const root = path.join(scratch.dir, 'partial-store');
    const cacheDir = path.join(scratch.dir, 'partial-cache');
    const store = storeIn(root, cacheDir);
    // A transfer's temporary name carries its owner's process id (a finished put or fetch leaves none):
    // written here as a killed transfer would have left them, beside a real stored object.
    const bytes = randomBytes(10_000);
    await writeFile(path.join(scratch.dir, 'partial-source'), bytes);
    const { sha256 } = await store.put(path.join(scratch.dir, 'partial-source'), 'image');
    // A process that is gone (it ran and exited), and one alive (this test's parent).
    const gonePid = Number((await run(process.execPath, ['-e', 'console.log(process.pid)'])).stdout);
    const host = PROCESS_ID.slice(0, PROCESS_ID.lastIndexOf(':'));
    const uuid = '0f6d1c38-7a38-4a43-9b1e-3a5e4c1d2b11';
    const leftovers = {
      gone: [`onnx/${sha256}.${host}:${gonePid}~${uuid}.part`, `image/.${sha256}.${host}:${gonePid}~${uuid}.part`],
      old: [`image/${sha256}.${uuid}.part`],
      alive: [`onnx/${sha256}.${host}:${process.ppid}~${uuid}.part`, `image/.${sha256}.${host}:${process.ppid}~${uuid}.part`],
    };
    for (const folder of [root, cacheDir]) {
      for (const name of [...leftovers.gone, ...leftovers.old, ...leftovers.alive]) {
        await mkdir(path.dirname(path.join(folder, name)), { recursive: true });
        await writeFile(path.join(folder, name), 'half an object');
      }
    }
    const removed = await store.sweepPartials();
    expect(removed.sort()).toEqual([...leftovers.gone, ...leftovers.old, ...leftovers.gone, ...leftovers.old].sort());
    for (const folder of [root, cacheDir]) {
      for (const name of leftovers.alive) expect((await stat(path.join(folder, name))).size).toBe(14);
      for (const name of [...leftovers.gone, ...leftovers.old]) await expect(stat(path.join(folder, name))).rejects.toThrow(/ENOENT/);
    }
    // The stored object itself is never taken for a partial file.
    expect(Buffer.compare(await readFile(await store.fetch(sha256, 'image')), bytes)).toBe(0);
  });

  // A network mount is another file system than the local cache; /dev/shm (tmpfs) stands in for it.
  const otherFileSystem = (() => {
    try {
      return statSync('/dev/shm').dev !== statSync(os.tmpdir()).dev;
    } catch {
      return false;
    }
  })();
  it.skipIf(!otherFileSystem)('copies the object into a cache on another file system, and verifies the copy', async () => {
    const cacheDir = await mkdtemp('/dev/shm/fashion-how-cache-');
    try {
      const store = storeIn(path.join(scratch.dir, 'mounted-store'), cacheDir);
      const bytes = randomBytes(200_000);
      const file = path.join(scratch.dir, 'mounted-source');
      await writeFile(file, bytes);
      const { sha256 } = await store.put(file, 'onnx');
      const cached = await store.fetch(sha256, 'onnx');
      expect(cached).toBe(path.join(cacheDir, 'onnx', sha256));
      expect((await stat(cached)).nlink).toBe(1);
      expect(Buffer.compare(await readFile(cached), bytes)).toBe(0);
      // A damaged object is refused by a host that has no copy yet, also when copying.
      await writeFile(store.locationOf(sha256, 'onnx'), randomBytes(200_000));
      const other = storeIn(path.join(scratch.dir, 'mounted-store'), path.join(cacheDir, 'second-host'));
      await expect(other.fetch(sha256, 'onnx')).rejects.toBeInstanceOf(ArtifactCorruptError);
      expect(await readdir(path.join(cacheDir, 'second-host', 'onnx'))).toEqual([]);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('artifact store settings', () => {
  const config = (env: Record<string, string>) => loadConfig({ FASHION_HOW_DATA_DIR: '/srv/fh', ...env });

  it('defaults to a folder in the data folder, and reads an s3:// URL with its endpoint and keys', () => {
    expect(config({}).artifactStore).toEqual({ kind: 'directory', dir: '/srv/fh/artifacts' });
    expect(config({}).artifactCacheDir).toBe('/srv/fh/cache/store');
    expect(config({ FASHION_HOW_ARTIFACT_STORE: '/mnt/shared/fh' }).artifactStore).toEqual({ kind: 'directory', dir: '/mnt/shared/fh' });
    expect(
      config({
        FASHION_HOW_ARTIFACT_STORE: 's3://models.example/prod/fh/',
        FASHION_HOW_S3_ENDPOINT: 'http://minio:9000',
        AWS_ACCESS_KEY_ID: 'id',
        AWS_SECRET_ACCESS_KEY: 'secret',
      }).artifactStore,
    ).toEqual({
      kind: 's3',
      bucket: 'models.example',
      prefix: 'prod/fh',
      endpoint: 'http://minio:9000',
      region: 'us-east-1',
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret', sessionToken: undefined },
    });
    expect(config({ FASHION_HOW_ARTIFACT_STORE: 's3://bucket', AWS_REGION: 'eu-west-1' }).artifactStore).toMatchObject({
      bucket: 'bucket',
      prefix: '',
      region: 'eu-west-1',
      endpoint: undefined,
      credentials: undefined,
    });
  });

  it('names a missing bucket', async () => {
    const settings = loadConfig({ ...s3.env(), FASHION_HOW_ARTIFACT_STORE: 's3://no-such-bucket', FASHION_HOW_DATA_DIR: path.join(scratch.dir, 'no-bucket') });
    const store = openArtifactStore(settings.artifactStore, settings.artifactCacheDir);
    try {
      const file = path.join(scratch.dir, 'no-bucket-source');
      await writeFile(file, 'bytes');
      await expect(store.put(file, 'checkpoint')).rejects.toMatchObject({
        reason: 'NoSuchBucket',
        message: expect.stringMatching(/^the artifact store s3:\/\/no-such-bucket could not write checkpoint object [0-9a-f]{64} \(NoSuchBucket: /),
      });
    } finally {
      await store.close();
    }
  });

  it('refuses bad settings naming the variable', () => {
    expect(() => config({ FASHION_HOW_ARTIFACT_STORE: 'gs://bucket/x' })).toThrow(
      'FASHION_HOW_ARTIFACT_STORE must be a folder path or s3://bucket[/prefix], got "gs://bucket/x"',
    );
    expect(() => config({ FASHION_HOW_ARTIFACT_STORE: 's3://Bad_Bucket' })).toThrow(/^FASHION_HOW_ARTIFACT_STORE names the bucket "Bad_Bucket"/);
    expect(() => config({ FASHION_HOW_ARTIFACT_STORE: 's3://bucket', FASHION_HOW_S3_ENDPOINT: 'minio:9000' })).toThrow(
      'FASHION_HOW_S3_ENDPOINT must be an http:// or https:// URL, got "minio:9000"',
    );
    expect(() => config({ FASHION_HOW_S3_ENDPOINT: 'http://minio:9000' })).toThrow(
      /^FASHION_HOW_S3_ENDPOINT is set, but FASHION_HOW_ARTIFACT_STORE is not an s3:\/\/ URL/,
    );
    expect(() => config({ FASHION_HOW_ARTIFACT_STORE: 's3://bucket', AWS_ACCESS_KEY_ID: 'id' })).toThrow(
      /^AWS_SECRET_ACCESS_KEY is not set, but AWS_ACCESS_KEY_ID is/,
    );
  });

  it('says which store is unreachable without naming its address to clients', async () => {
    const settings = config({
      FASHION_HOW_ARTIFACT_STORE: 's3://bucket',
      FASHION_HOW_S3_ENDPOINT: 'http://127.0.0.1:1',
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    const store = openArtifactStore(settings.artifactStore, path.join(scratch.dir, 'unreachable-cache'));
    try {
      const error = await store.fetch(sha256Of(Buffer.from('x')), 'onnx').catch((e: unknown) => e);
      expect((error as { reason: string }).reason).toMatch(/^[A-Za-z_]+$/);
      expect((error as { reason: string }).reason).not.toContain('127.0.0.1');
      expect((error as Error).message).toMatch(/^the artifact store s3:\/\/bucket could not read onnx object/);
      expect((error as Error).message).not.toContain('127.0.0.1');
    } finally {
      await store.close();
    }
  });
});
