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

/** Where artifacts and checkpoints are kept, by sha256 (see src/storage/artifactStore.ts). */
export type ArtifactStoreSettings = { kind: 'directory'; dir: string } | S3StoreSettings;

export interface S3StoreSettings {
  kind: 's3';
  bucket: string;
  /** Key prefix without leading or trailing slashes; '' for the bucket's root. */
  prefix: string;
  /** A custom endpoint (MinIO, Ceph, ...); undefined for AWS itself. */
  endpoint?: string;
  region: string;
  /** Undefined: the AWS SDK's own chain (shared config files, instance or container roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
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
  /** How often a running training job writes its heartbeat (and sees a cancel from another host), and
   *  how old a heartbeat may grow before the run counts as INTERRUPTED (its host or process is gone). */
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  /** Where the training worker keeps letterboxed uint8 pixels, one folder per preprocessing spec. */
  pixelCacheDir: string;
  /** The content-addressed store of ONNX graphs and checkpoints, shared by every host of an installation. */
  artifactStore: ArtifactStoreSettings;
  /** This host's verified copies of objects fetched from the artifact store. */
  artifactCacheDir: string;
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

function heartbeat(env: Env): Pick<AppConfig, 'heartbeatMs' | 'heartbeatTimeoutMs'> {
  const heartbeatMs = integer(env, 'FASHION_HOW_HEARTBEAT_MS', 2000, 100, 600_000);
  const heartbeatTimeoutMs = integer(env, 'FASHION_HOW_HEARTBEAT_TIMEOUT_MS', 30_000, 1000, 86_400_000);
  // A slow database write must not make a live worker look dead: a few heartbeats fit in the timeout.
  if (heartbeatTimeoutMs < 3 * heartbeatMs) {
    throw new Error(`FASHION_HOW_HEARTBEAT_TIMEOUT_MS (${heartbeatTimeoutMs}) must be at least 3 x FASHION_HOW_HEARTBEAT_MS (${heartbeatMs})`);
  }
  return { heartbeatMs, heartbeatTimeoutMs };
}

// An S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function artifactStore(env: Env, dataDir: string): ArtifactStoreSettings {
  const raw = env.FASHION_HOW_ARTIFACT_STORE;
  const endpoint = env.FASHION_HOW_S3_ENDPOINT || undefined;
  if (!raw || !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    if (endpoint) throw new Error(`FASHION_HOW_S3_ENDPOINT is set, but FASHION_HOW_ARTIFACT_STORE is not an s3:// URL (got "${raw ?? ''}"): say s3://bucket/prefix to use it`);
    return { kind: 'directory', dir: path.resolve(raw || path.join(dataDir, 'artifacts')) };
  }
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw);
  if (!match) throw new Error(`FASHION_HOW_ARTIFACT_STORE must be a folder path or s3://bucket[/prefix], got "${raw}"`);
  const [, bucket, prefix] = match as unknown as [string, string, string];
  if (!BUCKET.test(bucket)) throw new Error(`FASHION_HOW_ARTIFACT_STORE names the bucket "${bucket}": a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens`);
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) throw new Error(`FASHION_HOW_S3_ENDPOINT must be an http:// or https:// URL, got "${endpoint}"`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY || undefined;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new Error(`${accessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'} is not set, but ${accessKeyId ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} is: give both, or neither to use the AWS SDK's own credential chain`);
  }
  return {
    kind: 's3',
    bucket,
    prefix: prefix.replace(/^\/+|\/+$/g, ''),
    endpoint,
    region: env.AWS_REGION || 'us-east-1',
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined } : undefined,
  };
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
    ...heartbeat(env),
    pixelCacheDir: path.resolve(env.FASHION_HOW_PIXEL_CACHE_DIR || path.join(dataDir, 'cache', 'pixels')),
    artifactStore: artifactStore(env, dataDir),
    artifactCacheDir: path.resolve(env.FASHION_HOW_ARTIFACT_CACHE_DIR || path.join(dataDir, 'cache', 'store')),
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
  ['DATABASE_URL', 'database: file:<path> (SQLite, one host) or postgresql://user@host:5432/db (several hosts; training through its job queue) (default file:<data dir>/fashion-how.db)'],
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
  ['FASHION_HOW_HEARTBEAT_MS', 'how often a running training job writes its heartbeat and looks for a cancel from another host (default 2000)'],
  ['FASHION_HOW_HEARTBEAT_TIMEOUT_MS', 'a RUNNING run whose heartbeat is older than this becomes INTERRUPTED: its host or process is gone (default 30000)'],
  ['FASHION_HOW_WEIGHTS_DIR', "where pretrained weights are cached (default: torch hub's checkpoints folder)"],
  ['FASHION_HOW_WEIGHTS_MIRROR', "base URL serving torchvision's weight files, for sites without internet"],
  ['FASHION_HOW_WEIGHTS_MANIFEST', 'JSON {backbone: {file, sha256}} replacing torchvision\'s weight files'],
  ['FASHION_HOW_PIXEL_CACHE_DIR', 'letterboxed training images, decoded once per size (default <data dir>/cache/pixels)'],
  ['FASHION_HOW_ARTIFACT_STORE', 'where ONNX graphs and checkpoints are kept by sha256, shared by all hosts: a folder (any shared mount) or s3://bucket/prefix (default <data dir>/artifacts)'],
  ['FASHION_HOW_ARTIFACT_CACHE_DIR', "this host's verified copies of objects fetched from the artifact store (default <data dir>/cache/store)"],
  ['FASHION_HOW_S3_ENDPOINT', 'URL of an S3-compatible server (MinIO, Ceph, ...) for an s3:// artifact store (default: AWS S3)'],
  ['AWS_REGION', 'region of an s3:// artifact store (default us-east-1)'],
  ['AWS_ACCESS_KEY_ID', "access key of an s3:// artifact store, with AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if temporary); unset: the AWS SDK's own chain (config files, instance roles)"],
  ['AWS_SECRET_ACCESS_KEY', 'secret key going with AWS_ACCESS_KEY_ID'],
  ['AWS_SESSION_TOKEN', 'session token of temporary credentials (optional)'],
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
