// kill -9 leaves nothing (issue 36, item 5): a real server process killed with SIGKILL while an upload
// is arriving left its upload file in the scratch folder for ever; photos stored before an import's
// transaction committed were never collected. Here a `fashion-how serve` process is killed mid-upload and
// started again on the same data folder: its scratch is gone, and the photos a killed process had stored
// but no row names are deleted while the ones rows name stay.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { sha256Of } from '../../src/data/photos.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { DirectoryStore } from '../../src/storage/contentStore.js';
import { PendingObjects } from '../../src/storage/pendingObjects.js';
import { eventually, processAlive, seededTestConfig, testDatabaseUrl, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
const CLI = pathToFileURL(path.resolve('src/cli.ts')).href;
let dataDir: string;
let trainer: string;
let namedPhoto: string;
const servers: ChildProcess[] = [];

/** `fashion-how serve` as its own process (from the sources, through tsx), on `dataDir`; its GraphQL URL. */
async function serve(env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', `import(${JSON.stringify(CLI)}).then((cli) => cli.main(['node', 'fashion-how', 'serve']))`],
    {
      env: { ...process.env, FASHION_HOW_DATA_DIR: dataDir, DATABASE_URL: testDatabaseUrl(dataDir), PORT: '0', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  servers.push(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const look = (chunk: Buffer) => {
      output += chunk;
      const match = output.match(/GraphQL: (\S+)/);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening:\n${output.slice(-2000)}`)));
  });
  return { child, url };
}

/** Everything under a folder, as relative names (folders too). */
const under = async (dir: string) => (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();

/** A pid no process has now: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

beforeAll(async () => {
  dataDir = path.join(scratch.dir, 'data');
  // A dataset (its photos are named by rows) and a trainer token, written before any server runs.
  const app = await openApp(await seededTestConfig(dataDir));
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 6, seed: 5, minSide: 48, maxSide: 64 });
  await importDataset({ csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot }, app.services.importContext);
  namedPhoto = (await app.services.db.item.findFirst())!.imageSha256!;
  trainer = (await app.services.tokens.create('uploader', 'trainer')).token;
  await app.close();
}, 120_000);
afterAll(() => {
  for (const child of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('kill -9', () => {
  it('leaves no scratch after a restart: a server killed mid-upload, and the photos a killed import had stored that no row names', async () => {
    const first = await serve();
    const host = os.hostname();
    const folder = path.join(dataDir, 'scratch', `${host}:${first.child.pid}`);
    // An upload that never ends: 3 MB of an archive's bytes sent, the rest promised.
    const boundary = 'killnineboundary';
    const head = Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({
        query: 'mutation($archive: Upload!) { uploadDataset(archive: $archive) { created } }',
        variables: { archive: null },
      })}\r\n--${boundary}\r\ncontent-disposition: form-data; name="map"\r\n\r\n{"0":["variables.archive"]}\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="0"; filename="d.tar.gz"\r\ncontent-type: application/gzip\r\n\r\n`,
    );
    const req = request(first.url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + 100 * 2 ** 20),
        'apollo-require-preflight': 'true',
        authorization: `Bearer ${trainer}`,
      },
    });
    req.on('error', () => undefined);
    req.write(Buffer.concat([head, Buffer.alloc(3 * 2 ** 20, 7)]));
    const uploadFile = await eventually(
      async () => {
        const names = (await under(folder)).filter((n) => n.startsWith('upload-'));
        const size = names[0] ? (await stat(path.join(folder, names[0])).catch(() => null))?.size : 0;
        return size && size >= 2 ** 20 ? names[0] : undefined;
      },
      'the upload to reach the scratch folder',
      30_000,
      50,
    );
    expect(uploadFile).toMatch(/^upload-/);

    // The photos of an import a killed process (a real, dead pid) had stored before its transaction: one
    // that a dataset's rows name too, one that nothing names. A live process's journal keeps its own.
    const store = new DirectoryStore(path.join(dataDir, 'artifacts'), path.join(scratch.dir, 'cache'));
    const orphanFile = path.join(scratch.dir, 'orphan.bin');
    const keptFile = path.join(scratch.dir, 'in-flight.bin');
    await writeFile(orphanFile, 'a photo of an import that was killed');
    await writeFile(keptFile, 'a photo of an import still in flight');
    const orphan = (await store.put(orphanFile, 'image')).sha256;
    const inFlight = (await store.put(keptFile, 'image')).sha256;
    const pending = path.join(dataDir, 'pending');
    await mkdir(pending, { recursive: true });
    await writeFile(path.join(pending, `${host}:${await deadPid()}~image.killed.jsonl`), `${namedPhoto}\n${orphan}\n`);
    await writeFile(path.join(pending, `${host}:${process.pid}~image.live.jsonl`), `${inFlight}\n`);

    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    req.destroy();
    expect(await under(folder)).toContain(uploadFile); // what kill -9 leaves

    const second = await serve({ FASHION_HOW_ORPHAN_GRACE_MS: '0' });
    try {
      // Only the new server's own folder, empty; the killed one's folder and its upload are gone.
      expect(await under(path.join(dataDir, 'scratch'))).toEqual([`${host}:${second.child.pid}`]);
      expect(await store.has(orphan, 'image')).toBe(false);
      expect(await store.has(namedPhoto, 'image')).toBe(true);
      expect(await store.has(inFlight, 'image')).toBe(true);
      expect(await under(pending)).toEqual([`${host}:${process.pid}~image.live.jsonl`]);
      // And the server serves.
      const health = await fetch(second.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ health { ok } }' }),
      });
      expect(((await health.json()) as { data: { health: { ok: boolean } } }).data.health.ok).toBe(true);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.once('exit', resolve));
    }
    // A clean stop takes its own scratch folder with it.
    expect(processAlive(second.child.pid!)).toBe(false);
    expect(await under(path.join(dataDir, 'scratch'))).toEqual([]);
  }, 180_000);

  it('keeps what a gone process stored for the grace period (an import in flight elsewhere may still name it), then deletes it', async () => {
    const store = new DirectoryStore(path.join(scratch.dir, 'grace-store'), path.join(scratch.dir, 'grace-cache'));
    const file = path.join(scratch.dir, 'grace.bin');
    await writeFile(file, 'stored, never named');
    const { sha256 } = await store.put(file, 'image');
    expect(sha256).toBe(sha256Of('stored, never named'));
    const pending = new PendingObjects(path.join(scratch.dir, 'grace-pending'));
    await mkdir(pending.dir, { recursive: true });
    const journal = path.join(pending.dir, `${os.hostname()}:${await deadPid()}~image.cut.jsonl`);
    await writeFile(journal, `${sha256}\n`);
    const nothingNamed = async () => new Set<string>();
    const hour = 3_600_000;
    expect(await pending.collect(store, nothingNamed, hour)).toEqual([]);
    expect(await store.has(sha256, 'image')).toBe(true);
    // Two hours later (the journal's time moved back), past the grace period.
    const past = new Date(Date.now() - 2 * hour);
    await utimes(journal, past, past);
    expect(await pending.collect(store, nothingNamed, hour)).toEqual([{ kind: 'image', sha256 }]);
    expect(await store.has(sha256, 'image')).toBe(false);
    expect(await readdir(pending.dir)).toEqual([]);
  });
});
