// The one reader of process.env: everything else receives an AppConfig, so tests and the CLI can
// build one explicitly and nothing depends on ambient state. What each variable means, its type and its
// default are declared once, in settings.ts.
import path from 'node:path';
import { type Base, type Env, SETTINGS } from './settings.js';

export interface ImageLimits {
  /** Largest width x height accepted before decoding (decompression-bomb guard). */
  maxPixels: number;
  /** Largest encoded image accepted from a client, in bytes. */
  maxBytes: number;
}

/** How long a graph's check may take (src/inference/registry.ts): it runs in a process of its own. */
export interface ModelCheckLimits {
  /** Opening the graph and its check runs together; past it the check's process is killed. */
  timeLimitMs: number;
  /** One image through an imported graph; a slower graph is refused. */
  maxRunMs: number;
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

/** What may come in through imports, and from where (see src/data/archive.ts, src/data/sources.ts). */
export interface ImportSettings {
  /** Uploads and bucket imports one client may have in flight (each holds scratch disk while it runs). */
  maxPerClient: number;
  maxRows: number;
  maxCsvBytes: number;
  maxUploadBytes: number;
  archive: { maxEntries: number; maxExpandedBytes: number; maxCompressionRatio: number };
  /** Folders an admin's importDataset may read server paths under; none by default. */
  roots: string[];
  /** Bucket prefixes importDataset may read, and the S3 service they are on. */
  buckets: { bucket: string; prefix: string }[];
  s3: S3Connection;
}

export type S3Connection = Pick<S3StoreSettings, 'endpoint' | 'region' | 'credentials'>;

/** The prediction log's bounds (src/inference/predictionLog.ts). */
export interface PredictionLogSettings {
  /** Records waiting to be written at most; beyond, records are dropped and counted. */
  queue: number;
  /** Bytes of photos those records may hold at most (a record keeps its photo until its crop is measured). */
  queueBytes: number;
  /** Rows older than this are deleted. */
  maxAgeDays: number;
  /** At most this many rows are kept: the oldest go first. */
  maxRows: number;
  /** Keep each logged crop as a JPEG in the artifact store. */
  keepCrops: boolean;
}

/** The session options that change how fast a graph runs on a CPU: tuned per model and host
 *  (inference/sessionTuning.ts), or fixed by the operator (FASHION_HOW_ORT_*, serving.sessionOverrides).
 *  Declared here, not in inference/, because config.ts stands below every domain folder. */
export interface SessionTuning {
  /** Threads for one operator; 0 lets ONNX Runtime choose. */
  intraOpThreads?: number;
  graphOptimization?: 'all' | 'extended' | 'basic';
  /** Sequential runs one operator at a time; parallel also runs independent branches at once. */
  executionMode?: 'sequential' | 'parallel';
  /** ONNX Runtime's own CPU allocator (its arena) instead of one allocation per tensor. */
  memoryArena?: boolean;
  /** Plans tensor memory from the first run's pattern (shapes that repeat). */
  memoryPattern?: boolean;
  /** Copies of the session, each in a runtime thread of its own, that run batches side by side
   *  (inference/onnx.ts keeps them; one session in the runtime thread never sees this). */
  lanes?: number;
}

export interface AppConfig {
  /** Where the default SQLite file, imported artifacts and run folders live. */
  dataDir: string;
  /** Where users' season profiles are read from at start-up (src/seasons/profiles.ts). */
  seasonsDir: string;
  databaseUrl: string;
  host: string;
  port: number;
  /** Largest GraphQL request body express accepts. */
  maxBodyBytes: number;
  /** Largest ONNX graph importModel accepts. */
  maxModelBytes: number;
  modelChecks: ModelCheckLimits;
  /** Unnamed photos and crops wait this long before they are deleted (src/storage/pendingObjects.ts). */
  orphanGraceMs: number;
  imageLimits: ImageLimits;
  /** How many images are decoded at once while validating an import. */
  importConcurrency: number;
  imports: ImportSettings;
  /** Images preprocessed at once while serving: libuv's thread pool, where sharp runs (UV_THREADPOOL_SIZE). */
  preprocessingThreads: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Python interpreter for the training worker; undefined tries /usr/bin/python3, python3, python. */
  python?: string;
  /** Where findPython keeps what its probe found (see python.ts). */
  pythonCacheDir: string;
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
    /** ONNX Runtime threads per operator; 0: the model's tuning for this host, else ONNX Runtime's choice. */
    intraOpThreads: number;
    /** Session options the operator fixed for every model (over any tuning). */
    sessionOverrides?: SessionTuning;
    /** Classify requests one client (token, else address) may have in flight. */
    maxClientConcurrency: number;
    /** Models loaded at once (least recently used unloaded first); unset: DEFAULT_MAX_LOADED_MODELS. */
    maxLoadedModels?: number;
  };
  /** What serving records of itself: the prediction log, shadows, drift reports. */
  monitoring: {
    log: PredictionLogSettings;
    /** Share of requests logged that name a model directly. */
    directLogRate: number;
    shadowInFlight: number;
    driftReferenceItems: number;
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
  /** What one client may take of the server before and after it authenticates (see docs/serving.md). */
  guards: GuardSettings;
}

/** Bounds on what one client can make the server hold or do: request bodies by role, WebSockets and
 *  subscriptions, heavy reads (model cards, item images) and their caches, a response's size. */
export interface GuardSettings {
  /** Largest JSON body of a request without a token (when anonymous reads are on). */
  maxAnonymousBodyBytes: number;
  /** Origins besides the server's own whose pages may open a WebSocket. */
  allowedOrigins: string[];
  maxClientSockets: number;
  maxClientSubscriptions: number;
  maxClientHeavyReads: number;
  /** Heavy reads per second per client (a burst of HEAVY_READ_BURST first). */
  heavyReadsPerSecond: number;
  heavyReadConcurrency: number;
  /** Refusals per second per client before its requests are held back (0: never; see api/refusalGate.ts). */
  clientRefusalsPerSecond: number;
  previewCacheBytes: number;
  /** Bytes of uploaded images one client's requests in flight may hold in memory. */
  maxClientUploadBytes: number;
  maxResponseNodes: number;
  modelCardCost: number;
}

// An S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** An s3://bucket[/prefix] URL's parts; `setting` names where it came from in errors. */
function s3Url(raw: string, setting: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw);
  if (!match) throw new Error(`${setting} must be s3://bucket[/prefix], got "${raw}"`);
  const [, bucket, prefix] = match as unknown as [string, string, string];
  if (!BUCKET.test(bucket)) throw new Error(`${setting} names the bucket "${bucket}": a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens`);
  return { bucket, prefix: prefix.replace(/^\/+|\/+$/g, '') };
}

/** The S3 service (endpoint, region, credentials) the artifact store and import buckets are on. */
function s3Connection(env: Env, base: Base): S3Connection {
  const endpoint = SETTINGS.s3Endpoint.read(env, base);
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) throw new Error(`FASHION_HOW_S3_ENDPOINT must be an http:// or https:// URL, got "${endpoint}"`);
  const accessKeyId = SETTINGS.awsAccessKeyId.read(env, base);
  const secretAccessKey = SETTINGS.awsSecretAccessKey.read(env, base);
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new Error(
      `${accessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'} is not set, but ${accessKeyId ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} is: give both, or neither to use the AWS SDK's own credential chain`,
    );
  }
  return {
    endpoint,
    region: SETTINGS.awsRegion.read(env, base),
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: SETTINGS.awsSessionToken.read(env, base) } : undefined,
  };
}

const list = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

function artifactStore(env: Env, base: Base): ArtifactStoreSettings {
  const raw = SETTINGS.artifactStore.read(env, base);
  const connection = s3Connection(env, base);
  if (!raw || !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    if (connection.endpoint && list(SETTINGS.importBuckets.read(env, base)).length === 0)
      throw new Error(
        `FASHION_HOW_S3_ENDPOINT is set, but FASHION_HOW_ARTIFACT_STORE is not an s3:// URL (got "${raw ?? ''}") and FASHION_HOW_IMPORT_BUCKETS is empty: say s3://bucket/prefix to use it`,
      );
    return { kind: 'directory', dir: path.resolve(raw ?? path.join(base.dataDir, 'artifacts')) };
  }
  if (!raw.startsWith('s3://')) throw new Error(`FASHION_HOW_ARTIFACT_STORE must be a folder path or s3://bucket[/prefix], got "${raw}"`);
  return { kind: 's3', ...s3Url(raw, 'FASHION_HOW_ARTIFACT_STORE'), ...connection };
}

function imports(env: Env, base: Base): ImportSettings {
  const read = <T>(setting: { read(env: Env, base: Base): T }) => setting.read(env, base);
  return {
    maxPerClient: read(SETTINGS.maxClientImports),
    maxRows: read(SETTINGS.maxImportRows),
    maxCsvBytes: read(SETTINGS.maxCsvBytes),
    maxUploadBytes: read(SETTINGS.maxUploadBytes),
    archive: {
      maxEntries: read(SETTINGS.maxArchiveEntries),
      maxExpandedBytes: read(SETTINGS.maxArchiveExpandedBytes),
      maxCompressionRatio: read(SETTINGS.maxCompressionRatio),
    },
    roots: list(read(SETTINGS.importRoots)).map((root) => path.resolve(root)),
    buckets: list(read(SETTINGS.importBuckets)).map((url) => s3Url(url, 'FASHION_HOW_IMPORT_BUCKETS')),
    s3: s3Connection(env, base),
  };
}

/** For the settings whose defaults depend on neither the data folder nor the host (those two themselves,
 *  and the CLI's and the SDK's own). */
const NO_BASE: Base = { dataDir: '', host: '' };

/** The FASHION_HOW_ORT_* settings other than "tuned", as session options. */
function sessionOverrides(read: <T>(setting: { read(env: Env, base: Base): T }) => T): SessionTuning {
  const graph = read(SETTINGS.ortGraphOptimization);
  const mode = read(SETTINGS.ortExecutionMode);
  const arena = read(SETTINGS.ortMemoryArena);
  const pattern = read(SETTINGS.ortMemoryPattern);
  const lanes = read(SETTINGS.ortLanes);
  return {
    ...(lanes > 0 ? { lanes } : {}),
    ...(graph !== 'tuned' ? { graphOptimization: graph } : {}),
    ...(mode !== 'tuned' ? { executionMode: mode } : {}),
    ...(arena !== 'tuned' ? { memoryArena: arena === 'on' } : {}),
    ...(pattern !== 'tuned' ? { memoryPattern: pattern === 'on' } : {}),
  };
}

/** Builds the configuration from environment variables; every variable is optional. */
export function loadConfig(env: Env = process.env): AppConfig {
  const base: Base = { dataDir: SETTINGS.dataDir.read(env, NO_BASE), host: SETTINGS.host.read(env, NO_BASE) };
  const read = <T>(setting: { read(env: Env, base: Base): T }) => setting.read(env, base);
  const heartbeatMs = read(SETTINGS.heartbeatMs);
  const heartbeatTimeoutMs = read(SETTINGS.heartbeatTimeoutMs);
  // A slow database write must not make a live worker look dead: a few heartbeats fit in the timeout.
  if (heartbeatTimeoutMs < 3 * heartbeatMs) {
    throw new Error(`FASHION_HOW_HEARTBEAT_TIMEOUT_MS (${heartbeatTimeoutMs}) must be at least 3 x FASHION_HOW_HEARTBEAT_MS (${heartbeatMs})`);
  }
  return {
    dataDir: base.dataDir,
    seasonsDir: read(SETTINGS.seasonsDir),
    databaseUrl: read(SETTINGS.databaseUrl),
    host: base.host,
    port: read(SETTINGS.port),
    maxBodyBytes: read(SETTINGS.maxBodyBytes),
    maxModelBytes: read(SETTINGS.maxModelBytes),
    modelChecks: { timeLimitMs: read(SETTINGS.modelCheckTimeoutMs), maxRunMs: read(SETTINGS.maxModelRunMs) },
    orphanGraceMs: read(SETTINGS.orphanGraceMs),
    imageLimits: { maxPixels: read(SETTINGS.maxImagePixels), maxBytes: read(SETTINGS.maxImageBytes) },
    importConcurrency: read(SETTINGS.importConcurrency),
    imports: imports(env, base),
    preprocessingThreads: read(SETTINGS.preprocessingThreads),
    logLevel: read(SETTINGS.logLevel),
    python: read(SETTINGS.python),
    pythonCacheDir: read(SETTINGS.pythonCacheDir),
    trainingConcurrency: read(SETTINGS.trainingConcurrency),
    heartbeatMs,
    heartbeatTimeoutMs,
    pixelCacheDir: read(SETTINGS.pixelCacheDir),
    artifactStore: artifactStore(env, base),
    artifactCacheDir: read(SETTINGS.artifactCacheDir),
    weights: { dir: read(SETTINGS.weightsDir), mirror: read(SETTINGS.weightsMirror), manifest: read(SETTINGS.weightsManifest) },
    serving: {
      maxClassifyImages: read(SETTINGS.maxClassifyImages),
      maxBatch: read(SETTINGS.maxBatch),
      maxWaitMs: read(SETTINGS.maxWaitMs),
      maxQueue: read(SETTINGS.maxQueue),
      maxClientConcurrency: read(SETTINGS.maxClientConcurrency),
      maxLoadedModels: read(SETTINGS.maxLoadedModels),
      intraOpThreads: read(SETTINGS.intraOpThreads),
      sessionOverrides: sessionOverrides(read),
    },
    monitoring: {
      log: {
        queue: read(SETTINGS.predictionLogQueue),
        queueBytes: read(SETTINGS.predictionLogQueueBytes),
        maxAgeDays: read(SETTINGS.predictionLogMaxAgeDays),
        maxRows: read(SETTINGS.predictionLogMaxRows),
        keepCrops: read(SETTINGS.predictionLogCrops),
      },
      directLogRate: read(SETTINGS.predictionLogRate),
      shadowInFlight: read(SETTINGS.shadowInFlight),
      driftReferenceItems: read(SETTINGS.driftReferenceItems),
    },
    modelRefreshMs: read(SETTINGS.modelRefreshMs),
    graphql: {
      introspection: read(SETTINGS.introspection),
      landingPage: read(SETTINGS.landingPage),
      maxDepth: read(SETTINGS.maxDepth),
      maxCost: read(SETTINGS.maxCost),
      classifyImageCost: read(SETTINGS.classifyImageCost),
    },
    anonymousRead: read(SETTINGS.anonymousRead),
    guards: {
      maxAnonymousBodyBytes: read(SETTINGS.maxAnonymousBodyBytes),
      allowedOrigins: list(read(SETTINGS.allowedOrigins)).map((origin) => allowedOrigin(origin)),
      maxClientSockets: read(SETTINGS.maxClientSockets),
      maxClientSubscriptions: read(SETTINGS.maxClientSubscriptions),
      maxClientHeavyReads: read(SETTINGS.maxClientHeavyReads),
      heavyReadsPerSecond: read(SETTINGS.heavyReadsPerSecond),
      heavyReadConcurrency: read(SETTINGS.heavyReadConcurrency),
      clientRefusalsPerSecond: read(SETTINGS.clientRefusalsPerSecond),
      previewCacheBytes: read(SETTINGS.previewCacheBytes),
      maxClientUploadBytes: read(SETTINGS.maxClientUploadBytes),
      maxResponseNodes: read(SETTINGS.maxResponseNodes),
      modelCardCost: read(SETTINGS.modelCardCost),
    },
  };
}

/** An allowed origin as browsers send it (scheme://host[:port], lowercase, no path). */
function allowedOrigin(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`FASHION_HOW_ALLOWED_ORIGINS holds "${raw}", which is not an origin such as https://dash.example.com`);
  }
  if (!/^https?:$/.test(url.protocol) || (url.pathname !== '/' && url.pathname !== ''))
    throw new Error(`FASHION_HOW_ALLOWED_ORIGINS holds "${raw}": an origin is http(s)://host[:port], without a path`);
  return url.origin;
}

/** Whether the CLI shows the stack of an unexpected error; a bad value counts as no (the CLI is already
 *  reporting an error, perhaps that very value). */
export function debugEnabled(env: Env = process.env): boolean {
  try {
    return SETTINGS.debug.read(env, NO_BASE);
  } catch {
    return false;
  }
}

/** What an SDK client takes from the environment when its caller does not say. */
export function loadClientConfig(env: Env = process.env): { endpoint: string; token?: string } {
  return { endpoint: SETTINGS.endpoint.read(env, NO_BASE), token: SETTINGS.token.read(env, NO_BASE) };
}

// What the training worker (Python, a separate program) may see of the server's environment: what an
// interpreter, torch, CUDA, the BLAS libraries and a proxy need. Not the database URL, not the store's
// or anyone's keys, not the server's own settings (the worker gets its settings on stdin).
const WORKER_ENV =
  /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_\w+|TZ|TMPDIR|TEMP|TMP|PYTHONPATH|PYTHONHOME|VIRTUAL_ENV|CONDA_PREFIX|LD_LIBRARY_PATH|CUDA_\w+|NVIDIA_\w+|CUDNN_\w+|NCCL_\w+|OMP_\w+|MKL_\w+|OPENBLAS_\w+|KMP_\w+|TORCH_HOME|XDG_CACHE_HOME|(?:HTTPS?|NO)_PROXY|(?:https?|no)_proxy|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE)$/;

/** The allow-listed part of the environment, for the training worker's process. */
export function workerEnvironment(env: Env = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => WORKER_ENV.test(entry[0]) && entry[1] !== undefined));
}
