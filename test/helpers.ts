// Shared test scaffolding: temporary folders, a fresh database per data folder (SQLite, or PostgreSQL
// in the suite's postgresql project), synthetic data.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import { type App, openApp } from '../src/app.js';
import { type AppConfig, loadConfig } from '../src/config.js';
import { seedTestDatabase, testDatabaseUrl } from './fixtures/databases.js';
import { TEST_PYTHON_CACHE_DIR } from './fixtures/python.js';

export { seedTestDatabase, TEST_DATABASE, testDatabaseUrl } from './fixtures/databases.js';

/** Settings every test app shares: the run's probe of the training Python (vitest.config.ts). */
export const TEST_ENV = { FASHION_HOW_PYTHON_CACHE_DIR: TEST_PYTHON_CACHE_DIR };

export async function tempDir(prefix = 'fashion-how-test-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  // rm's retries (on ENOTEMPTY, EBUSY): a child process the app killed on close (a training worker) may
  // still be letting go of a file in the folder for a moment after close() returned.
  return { dir, remove: () => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }) };
}

/** A temporary folder for the whole test file, made before its tests and removed after them. */
export function useScratchDir(): { readonly dir: string } {
  let scratch: Awaited<ReturnType<typeof tempDir>> | undefined;
  beforeAll(async () => {
    scratch = await tempDir();
  });
  afterAll(() => scratch?.remove());
  return {
    get dir() {
      if (!scratch) throw new Error('the scratch folder exists only inside tests and hooks');
      return scratch.dir;
    },
  };
}

/** A configuration that keeps everything inside `dir` (and its own database), listening on a free port. */
export function testConfig(dir: string, overrides: Partial<AppConfig> = {}): AppConfig {
  return { ...loadConfig({ ...TEST_ENV, FASHION_HOW_DATA_DIR: dir, DATABASE_URL: testDatabaseUrl(dir), PORT: '0', LOG_LEVEL: 'silent' }), ...overrides };
}

/** testConfig, with the folder's database made from this run's schema template if it has none yet. */
export async function seededTestConfig(dir: string, overrides: Partial<AppConfig> = {}): Promise<AppConfig> {
  await seedTestDatabase(dir);
  return testConfig(dir, overrides);
}

/** An app as `fashion-how serve` runs it: on PostgreSQL it is also a worker of the job queue. */
export async function openTestApp(dir: string, overrides: Partial<AppConfig> = {}): Promise<App> {
  const app = await openApp(await seededTestConfig(dir, overrides));
  await app.services.training.startWorker();
  return app;
}

/** Rows of every table an import writes, to prove that a refused import stored nothing. */
export async function storedRowCounts(app: App) {
  const { db } = app.services;
  return {
    datasets: await db.dataset.count(),
    items: await db.item.count(),
    labels: await db.itemLabel.count(),
    rejects: await db.importReject.count(),
    schemas: await db.labelSchema.count(),
  };
}

/** Parses a CSV without commas inside fields: an independent reader for checking the importer. */
export function naiveCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trim().split('\n');
  const names = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i]!, cell])));
}

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A bare GraphQL-over-HTTP client: what any program would send, with a bearer token when given. */
export function graphqlClient(url: string, token?: string) {
  return async <T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return (await response.json()) as GraphQLResponse<T>;
  };
}

/** A bare client for the GraphQL multipart request spec, written out by hand: `files` maps a variables
 *  path (e.g. "input.images.0.file") to the bytes sent as that file part; the variable itself goes as null. */
export function multipartClient(url: string, token?: string, extraHeaders: Record<string, string> = { 'apollo-require-preflight': 'true' }) {
  return async <T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown>,
    files: Record<string, Uint8Array>,
  ): Promise<GraphQLResponse<T> & { status: number }> => {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query, variables }));
    const paths = Object.keys(files);
    form.set('map', JSON.stringify(Object.fromEntries(paths.map((p, i) => [String(i), [`variables.${p}`]]))));
    paths.forEach((p, i) => {
      form.set(String(i), new Blob([files[p]!]), `part-${i}`);
    });
    const response = await fetch(url, { method: 'POST', headers: { ...extraHeaders, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: form });
    const text = await response.text();
    try {
      return { status: response.status, ...(JSON.parse(text) as GraphQLResponse<T>) };
    } catch {
      return { status: response.status, errors: [{ message: text }] };
    }
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 90_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A valid PNG whose header claims width x height: a decompression bomb's calling card, a few KB long. */
export function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const rows = deflateSync(Buffer.alloc(Math.min(height, 64) * (width + 1)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', rows),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
