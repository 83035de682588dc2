// The one reader of process.env: everything else receives an AppConfig, so tests and the CLI can
// build one explicitly and nothing depends on ambient state.
import os from 'node:os';
import path from 'node:path';

export interface ImageLimits {
  /** Largest width x height accepted before decoding (decompression-bomb guard). */
  maxPixels: number;
  /** Largest encoded image accepted from a client, in bytes. */
  maxBytes: number;
}

export interface AppConfig {
  /** Where the default SQLite file, imported artifacts and run folders live. */
  dataDir: string;
  databaseUrl: string;
  host: string;
  port: number;
  /** Largest GraphQL request body express accepts. */
  maxBodyBytes: number;
  /** Largest ONNX graph importModel accepts. */
  maxModelBytes: number;
  imageLimits: ImageLimits;
  /** How many images are decoded at once while validating an import. */
  importConcurrency: number;
  /** Images preprocessed at once while serving: libuv's thread pool, where sharp runs (UV_THREADPOOL_SIZE). */
  preprocessingThreads: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Python interpreter for the training worker; undefined tries /usr/bin/python3, python3, python. */
  python?: string;
  /** Training jobs at once; undefined = one per CUDA device (at least one). */
  trainingConcurrency?: number;
  /** Where the training worker keeps letterboxed uint8 pixels, one folder per preprocessing spec. */
  pixelCacheDir: string;
  /** Pretrained weights: the cache folder (undefined: torch hub's), a mirror base URL, a manifest file. */
  weights: { dir?: string; mirror?: string; manifest?: string };
  serving: {
    /** Most images one classify request may carry. */
    maxClassifyImages: number;
    /** Micro-batching: rows per session run, and the longest a row waits for company. */
    maxBatch: number;
    maxWaitMs: number;
    /** Rows that may wait per model before requests are refused with OVERLOADED. */
    maxQueue: number;
    /** ONNX Runtime threads per operator; 0 lets it choose. */
    intraOpThreads: number;
    /** Classify requests one client (token, else address) may have in flight. */
    maxClientConcurrency: number;
  };
  /** How often a serving process checks whether the default ensemble changed (another replica or the
   *  CLI may change it) and warms the new one; on PostgreSQL a notice usually arrives first. Outside
   *  `serving` so that tests which spell out serving's limits need not repeat it. */
  modelRefreshMs: number;
  graphql: {
    introspection: boolean;
    landingPage: boolean;
    maxDepth: number;
    maxCost: number;
    /** What one classified image adds to a query's cost (images weigh far more than fields). */
    classifyImageCost: number;
  };
  /** Whether queries and classify work without a token (mutations never do). */
  anonymousRead: boolean;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new Error(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** Builds the configuration from environment variables; every variable is optional. */
export function loadConfig(env: Env = process.env): AppConfig {
  const dataDir = path.resolve(env.FASHION_HOW_DATA_DIR || 'data');
  const host = env.HOST || '127.0.0.1';
  return {
    dataDir,
    databaseUrl: env.DATABASE_URL || `file:${path.join(dataDir, 'fashion-how.db')}`,
    host,
    port: integer(env, 'PORT', 4000, 0, 65535),
    maxBodyBytes: integer(env, 'FASHION_HOW_MAX_BODY_BYTES', 32 * 1024 * 1024, 1024),
    maxModelBytes: integer(env, 'FASHION_HOW_MAX_MODEL_BYTES', 256 * 1024 * 1024, 1024),
    imageLimits: {
      maxPixels: integer(env, 'FASHION_HOW_MAX_IMAGE_PIXELS', 40_000_000, 1),
      maxBytes: integer(env, 'FASHION_HOW_MAX_IMAGE_BYTES', 10 * 1024 * 1024, 1),
    },
    importConcurrency: integer(env, 'FASHION_HOW_IMPORT_CONCURRENCY', Math.max(2, os.availableParallelism() * 2), 1, 256),
    preprocessingThreads: integer(env, 'UV_THREADPOOL_SIZE', 4, 1, 1024),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    python: env.FASHION_HOW_PYTHON || undefined,
    trainingConcurrency: env.FASHION_HOW_TRAINING_CONCURRENCY ? integer(env, 'FASHION_HOW_TRAINING_CONCURRENCY', 1, 1, 256) : undefined,
    pixelCacheDir: path.resolve(env.FASHION_HOW_PIXEL_CACHE_DIR || path.join(dataDir, 'cache', 'pixels')),
    weights: {
      dir: env.FASHION_HOW_WEIGHTS_DIR ? path.resolve(env.FASHION_HOW_WEIGHTS_DIR) : undefined,
      mirror: env.FASHION_HOW_WEIGHTS_MIRROR || undefined,
      manifest: env.FASHION_HOW_WEIGHTS_MANIFEST ? path.resolve(env.FASHION_HOW_WEIGHTS_MANIFEST) : undefined,
    },
    serving: {
      maxClassifyImages: integer(env, 'FASHION_HOW_MAX_CLASSIFY_IMAGES', 64, 1, 10_000),
      maxBatch: integer(env, 'FASHION_HOW_MICROBATCH_MAX', 16, 1, 1024),
      maxWaitMs: integer(env, 'FASHION_HOW_MICROBATCH_WAIT_MS', 0, 0, 10_000),
      maxQueue: integer(env, 'FASHION_HOW_INFERENCE_QUEUE', 256, 1, 1_000_000),
      maxClientConcurrency: integer(env, 'FASHION_HOW_MAX_CLIENT_CONCURRENCY', 8, 1, 10_000),
      intraOpThreads: integer(env, 'FASHION_HOW_INTRA_OP_THREADS', 0, 0, 1024),
    },
    modelRefreshMs: integer(env, 'FASHION_HOW_MODEL_REFRESH_MS', 2000, 100, 3_600_000),
    graphql: {
      introspection: flag(env, 'FASHION_HOW_INTROSPECTION', true),
      landingPage: flag(env, 'FASHION_HOW_LANDING_PAGE', isLoopback(host)),
      maxDepth: integer(env, 'FASHION_HOW_MAX_QUERY_DEPTH', 12, 1, 1000),
      // A connection adds two levels (edges, node), which graphql-armor's depth factor of 1.5 turns into
      // 2.25 times the cost of the same fields as a plain list: 50,000 lets them through, as 20,000 did.
      maxCost: integer(env, 'FASHION_HOW_MAX_QUERY_COST', 50_000, 1, 10_000_000),
      classifyImageCost: integer(env, 'FASHION_HOW_CLASSIFY_IMAGE_COST', 250, 0, 10_000_000),
    },
    // Open reads suit a server on the loopback interface; a server others can reach asks for tokens.
    anonymousRead: flag(env, 'FASHION_HOW_ANONYMOUS_READ', isLoopback(host)),
  };
}

/** The environment variables loadConfig reads, with their defaults, for `--help` and the README. */
export const CONFIG_VARIABLES: ReadonlyArray<[name: string, meaning: string]> = [
  ['FASHION_HOW_DATA_DIR', 'folder for the SQLite file and artifacts (default ./data)'],
  ['DATABASE_URL', 'database to use (default file:<data dir>/fashion-how.db)'],
  ['HOST', 'address the server listens on (default 127.0.0.1)'],
  ['PORT', 'port the server listens on (default 4000)'],
  ['FASHION_HOW_MAX_BODY_BYTES', 'largest JSON request body (default 33554432)'],
  ['FASHION_HOW_MAX_MODEL_BYTES', 'largest ONNX graph importModel accepts (default 268435456)'],
  ['FASHION_HOW_MAX_IMAGE_PIXELS', 'largest image in pixels (default 40000000)'],
  ['FASHION_HOW_MAX_IMAGE_BYTES', 'largest encoded image from a client (default 10485760)'],
  ['FASHION_HOW_IMPORT_CONCURRENCY', 'images decoded at once during import (default 2 x cores)'],
  ['UV_THREADPOOL_SIZE', "libuv's thread pool, where sharp preprocesses images; serving schedules that many at once (default 4)"],
  ['LOG_LEVEL', 'debug | info | warn | error | silent (default info)'],
  ['FASHION_HOW_PYTHON', 'Python with torch + torchvision for training (default: first of /usr/bin/python3, python3, python that works)'],
  ['FASHION_HOW_TRAINING_CONCURRENCY', 'training jobs at once (default: one per CUDA device, at least 1)'],
  ['FASHION_HOW_WEIGHTS_DIR', "where pretrained weights are cached (default: torch hub's checkpoints folder)"],
  ['FASHION_HOW_WEIGHTS_MIRROR', "base URL serving torchvision's weight files, for sites without internet"],
  ['FASHION_HOW_WEIGHTS_MANIFEST', 'JSON {backbone: {file, sha256}} replacing torchvision\'s weight files'],
  ['FASHION_HOW_PIXEL_CACHE_DIR', 'letterboxed training images, decoded once per size (default <data dir>/cache/pixels)'],
  ['FASHION_HOW_MAX_CLASSIFY_IMAGES', 'most images in one classify request (default 64)'],
  ['FASHION_HOW_MICROBATCH_MAX', 'rows per ONNX Runtime run (default 16)'],
  ['FASHION_HOW_MICROBATCH_WAIT_MS', 'how long an idle model waits for more rows before it runs (default 0: at once; batches form while one runs)'],
  ['FASHION_HOW_INFERENCE_QUEUE', 'rows waiting per model before OVERLOADED (default 256)'],
  ['FASHION_HOW_MAX_CLIENT_CONCURRENCY', 'classify requests one client (token, else address) may have in flight before RATE_LIMITED (default 8)'],
  ['FASHION_HOW_INTRA_OP_THREADS', 'ONNX Runtime threads per operator (default 0 = its choice)'],
  ['FASHION_HOW_MODEL_REFRESH_MS', "how often a server checks whether the default ensemble changed and warms the new one (default 2000; on PostgreSQL a notice usually comes first)"],
  ['FASHION_HOW_INTROSPECTION', 'GraphQL introspection (default true)'],
  ['FASHION_HOW_LANDING_PAGE', 'Apollo landing page at /graphql (default: true on loopback)'],
  ['FASHION_HOW_MAX_QUERY_DEPTH', 'deepest GraphQL selection (default 12)'],
  ['FASHION_HOW_MAX_QUERY_COST', 'GraphQL cost limit (default 50000)'],
  ['FASHION_HOW_CLASSIFY_IMAGE_COST', 'query cost of one classified image, checked against FASHION_HOW_MAX_QUERY_COST (default 250)'],
  ['FASHION_HOW_ANONYMOUS_READ', 'queries and classify without a token (default: true on loopback)'],
];

/** What an SDK client takes from the environment when its caller does not say. */
export function loadClientConfig(env: Env = process.env): { endpoint: string; token?: string } {
  return { endpoint: env.FASHION_HOW_ENDPOINT || 'http://127.0.0.1:4000/graphql', token: env.FASHION_HOW_TOKEN || undefined };
}
