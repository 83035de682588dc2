// Every setting declared once: its environment variable, type, default and meaning. config.ts reads
// them into an AppConfig, `fashion-how --help` lists them, and docs/configuration.md's table is
// generated from them (scripts/settings-doc.ts; a test fails when the page and this file disagree).
import os from 'node:os';
import path from 'node:path';

import { choice, flag, fraction, integer, optionalInteger, optionalText, type Setting, text } from './settingKinds.js';

export type { Base, Env, Setting } from './settingKinds.js';

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

const MiB = 1024 * 1024;

export const SETTINGS = {
  dataDir: text('FASHION_HOW_DATA_DIR', 'folder for the SQLite file, run folders and (by default) the artifact store and caches', {
    default: 'data',
    defaultText: './data',
    asPath: true,
  }),
  databaseUrl: text(
    'DATABASE_URL',
    'database: file:<path> (SQLite, one host) or postgresql://user@host:5432/db (several hosts; training through its job queue)',
    {
      default: ({ dataDir }) => `file:${path.join(dataDir, 'fashion-how.db')}`,
      defaultText: 'file:<data dir>/fashion-how.db',
      type: 'URL',
    },
  ),
  host: text('HOST', 'address the server listens on', { default: '127.0.0.1' }),
  port: integer('PORT', 'port the server listens on (0: any free port)', { default: 4000, min: 0, max: 65535 }),
  maxBodyBytes: integer('FASHION_HOW_MAX_BODY_BYTES', 'largest JSON request body, in bytes', { default: 32 * MiB, min: 1024 }),
  maxAnonymousBodyBytes: integer(
    'FASHION_HOW_MAX_ANONYMOUS_BODY_BYTES',
    'largest JSON request body without a token (GraphQL and /v2), checked before it is read; without anonymous reads such a request is refused anyway and 64 KiB is the limit',
    { default: 2 * MiB, defaultText: '2 MiB', min: 1024 },
  ),
  maxModelBytes: integer('FASHION_HOW_MAX_MODEL_BYTES', 'largest ONNX graph importModel accepts, in bytes', { default: 256 * MiB, min: 1024 }),
  modelCheckTimeoutMs: integer(
    'FASHION_HOW_MODEL_CHECK_TIMEOUT_MS',
    "time an imported graph's check, or a finished run's export check, may take to open the graph and run it (in a process of its own, killed past it)",
    { default: 60_000, min: 1000, max: 3_600_000 },
  ),
  maxModelRunMs: integer(
    'FASHION_HOW_MAX_MODEL_RUN_MS',
    'longest one image may take through an imported graph in its check: a slower graph would hold a serving runtime thread that long on every request, so it is refused',
    { default: 3000, min: 1, max: 3_600_000 },
  ),
  maxImagePixels: integer('FASHION_HOW_MAX_IMAGE_PIXELS', 'largest image, width x height, checked before decoding (decompression-bomb guard)', {
    default: 40_000_000,
    min: 1,
  }),
  maxImageBytes: integer('FASHION_HOW_MAX_IMAGE_BYTES', 'largest encoded image from a client, in bytes', { default: 10 * MiB, min: 1 }),
  importConcurrency: integer('FASHION_HOW_IMPORT_CONCURRENCY', 'images decoded at once while an import is validated', {
    default: () => Math.max(2, os.availableParallelism() * 2),
    defaultText: '2 x cores (at least 2)',
    min: 1,
    max: 256,
  }),
  maxClientImports: integer('FASHION_HOW_MAX_CLIENT_IMPORTS', 'uploads and bucket imports one client (token) may have in flight before RATE_LIMITED', {
    default: 1,
    min: 1,
    max: 1000,
  }),
  maxImportRows: integer('FASHION_HOW_MAX_IMPORT_ROWS', 'most rows in one imported CSV', { default: 200_000, min: 1 }),
  maxCsvBytes: integer('FASHION_HOW_MAX_CSV_BYTES', 'largest imported CSV, in bytes (read as a stream and refused at the first byte over)', {
    default: 256 * MiB,
    defaultText: '256 MiB',
    min: 1024,
  }),
  orphanGraceMs: integer(
    'FASHION_HOW_ORPHAN_GRACE_MS',
    'how long photos and crops stored by an import or a prediction log write that was killed or failed before its rows were written wait, unnamed, before they are deleted (an import in flight on another host may still name them)',
    { default: 3_600_000, min: 0 },
  ),
  maxUploadBytes: integer('FASHION_HOW_MAX_UPLOAD_BYTES', 'largest dataset archive uploadDataset receives, in bytes', {
    default: 4 * 1024 * MiB,
    defaultText: '4 GiB',
    min: 1024,
  }),
  maxArchiveEntries: integer('FASHION_HOW_MAX_ARCHIVE_ENTRIES', 'most entries (files and folders) in one dataset archive', { default: 50_000, min: 1 }),
  maxArchiveExpandedBytes: integer('FASHION_HOW_MAX_ARCHIVE_EXPANDED_BYTES', 'most bytes one dataset archive (or bucket prefix) unpacks to', {
    default: 16 * 1024 * MiB,
    defaultText: '16 GiB',
    min: 1024,
  }),
  maxCompressionRatio: integer('FASHION_HOW_MAX_COMPRESSION_RATIO', 'most unpacked bytes per archive byte (photos barely compress; zip bombs do)', {
    default: 100,
    min: 1,
  }),
  importRoots: optionalText(
    'FASHION_HOW_IMPORT_ROOTS',
    "folders (comma-separated) under which an admin's importDataset may read server paths over the API; the CLI reads local paths anyway",
    { defaultText: 'none: the API imports uploads and buckets only', type: 'paths' },
  ),
  importBuckets: optionalText(
    'FASHION_HOW_IMPORT_BUCKETS',
    'S3 prefixes (comma-separated s3://bucket[/prefix]) importDataset may read from, with FASHION_HOW_S3_ENDPOINT and the AWS_* credentials',
    { defaultText: 'none', type: 's3:// URLs' },
  ),
  preprocessingThreads: integer('UV_THREADPOOL_SIZE', "libuv's thread pool, where sharp preprocesses images; serving schedules that many at once", {
    default: 4,
    min: 1,
    max: 1024,
  }),
  logLevel: choice('LOG_LEVEL', 'how much the server logs (JSON lines on stdout)', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
  python: optionalText('FASHION_HOW_PYTHON', 'Python with torch + torchvision for training', {
    defaultText: 'the first of /usr/bin/python3, python3, python that can import torch',
    type: 'path',
  }),
  pythonCacheDir: text(
    'FASHION_HOW_PYTHON_CACHE_DIR',
    "what the probe of the training Python found (torch's version, CUDA devices, backbones), kept per interpreter and installed packages so that start-up does not import torch again",
    { default: ({ dataDir }) => path.join(dataDir, 'cache', 'python'), defaultText: '<data dir>/cache/python', asPath: true },
  ),
  trainingConcurrency: optionalInteger('FASHION_HOW_TRAINING_CONCURRENCY', 'training jobs at once in one process', {
    min: 1,
    max: 256,
    defaultText: 'one per CUDA device, at least 1',
  }),
  heartbeatMs: integer('FASHION_HOW_HEARTBEAT_MS', 'how often a running training job writes its heartbeat and looks for a cancel from another host', {
    default: 2000,
    min: 100,
    max: 600_000,
  }),
  heartbeatTimeoutMs: integer(
    'FASHION_HOW_HEARTBEAT_TIMEOUT_MS',
    'a RUNNING run whose heartbeat is older than this becomes INTERRUPTED (its host or process is gone); at least 3 x FASHION_HOW_HEARTBEAT_MS',
    {
      default: 30_000,
      min: 1000,
      max: 86_400_000,
    },
  ),
  weightsDir: optionalText('FASHION_HOW_WEIGHTS_DIR', 'where pretrained weights are cached', { defaultText: "torch hub's checkpoints folder", asPath: true }),
  weightsMirror: optionalText('FASHION_HOW_WEIGHTS_MIRROR', "base URL serving torchvision's weight files, for sites without internet", {
    defaultText: 'none',
    type: 'URL',
  }),
  weightsManifest: optionalText('FASHION_HOW_WEIGHTS_MANIFEST', "JSON file {backbone: {file, sha256}} replacing torchvision's weight files", {
    defaultText: 'none',
    asPath: true,
  }),
  seasonsDir: text('FASHION_HOW_SEASONS_DIR', 'folder of season profiles (*.json, docs/seasons.md) read at start-up beside the built-in 2022 and 2024 ones', {
    default: ({ dataDir }) => path.join(dataDir, 'seasons'),
    defaultText: '<data dir>/seasons',
    asPath: true,
  }),
  pixelCacheDir: text('FASHION_HOW_PIXEL_CACHE_DIR', 'letterboxed training images, decoded once per preprocessing spec', {
    default: ({ dataDir }) => path.join(dataDir, 'cache', 'pixels'),
    defaultText: '<data dir>/cache/pixels',
    asPath: true,
  }),
  artifactStore: optionalText(
    'FASHION_HOW_ARTIFACT_STORE',
    'where ONNX graphs and checkpoints are kept by sha256, shared by all hosts: a folder (any shared mount) or s3://bucket/prefix',
    {
      defaultText: '<data dir>/artifacts',
      type: 'path or s3:// URL',
    },
  ),
  artifactCacheDir: text('FASHION_HOW_ARTIFACT_CACHE_DIR', "this host's verified copies of objects fetched from the artifact store", {
    default: ({ dataDir }) => path.join(dataDir, 'cache', 'store'),
    defaultText: '<data dir>/cache/store',
    asPath: true,
  }),
  s3Endpoint: optionalText(
    'FASHION_HOW_S3_ENDPOINT',
    'URL of an S3-compatible server (MinIO, Ceph, ...) for an s3:// artifact store and FASHION_HOW_IMPORT_BUCKETS',
    {
      defaultText: 'AWS S3 itself',
      type: 'URL',
    },
  ),
  awsRegion: text('AWS_REGION', 'region of an s3:// artifact store', { default: 'us-east-1' }),
  awsAccessKeyId: optionalText('AWS_ACCESS_KEY_ID', 'access key of an s3:// artifact store, with AWS_SECRET_ACCESS_KEY (give both or neither)', {
    defaultText: "the AWS SDK's own chain (config files, instance roles)",
  }),
  awsSecretAccessKey: optionalText('AWS_SECRET_ACCESS_KEY', 'secret key going with AWS_ACCESS_KEY_ID', { defaultText: 'none' }),
  awsSessionToken: optionalText('AWS_SESSION_TOKEN', 'session token of temporary credentials', { defaultText: 'none' }),
  maxClassifyImages: integer('FASHION_HOW_MAX_CLASSIFY_IMAGES', 'most images in one request, over all its classify fields', {
    default: 64,
    min: 1,
    max: 10_000,
  }),
  maxBatch: integer('FASHION_HOW_MICROBATCH_MAX', 'rows per ONNX Runtime run', { default: 16, min: 1, max: 1024 }),
  maxWaitMs: integer('FASHION_HOW_MICROBATCH_WAIT_MS', 'how long an idle model waits for more rows before it runs (0: at once; batches form while one runs)', {
    default: 0,
    min: 0,
    max: 10_000,
  }),
  maxQueue: integer('FASHION_HOW_INFERENCE_QUEUE', 'rows waiting per model before requests are refused with OVERLOADED', {
    default: 256,
    min: 1,
    max: 1_000_000,
  }),
  maxClientConcurrency: integer(
    'FASHION_HOW_MAX_CLIENT_CONCURRENCY',
    'classify requests one client (token, else address) may have in flight before RATE_LIMITED',
    { default: 8, min: 1, max: 10_000 },
  ),
  maxClientHeavyReads: integer(
    'FASHION_HOW_MAX_CLIENT_HEAVY_READS',
    'model cards and item photos or crops one client (token, else address) may have in flight (made or waiting their turn) before RATE_LIMITED; a dashboard page asks for up to 6 at once',
    { default: 16, min: 1, max: 10_000 },
  ),
  heavyReadsPerSecond: integer(
    'FASHION_HOW_HEAVY_READS_PER_SECOND',
    'model cards and item photos or crops one client may ask for per second, cached ones too (256 at once, then this rate) before RATE_LIMITED',
    { default: 10, min: 1, max: 100_000 },
  ),
  clientRefusalsPerSecond: integer(
    'FASHION_HOW_CLIENT_REFUSALS_PER_SECOND',
    'refused requests (400, 401, 403, 413, 429) one client (token, else address) may collect per second (50 at once) before its next requests are held back unread and answered RATE_LIMITED; 0: no limit',
    { default: 10, min: 0, max: 100_000 },
  ),
  heavyReadConcurrency: integer(
    'FASHION_HOW_HEAVY_READ_CONCURRENCY',
    'model cards and item photos or crops made at once over all clients (taken round-robin across clients); cached ones are not counted',
    { default: 1, min: 1, max: 256 },
  ),
  previewCacheBytes: integer(
    'FASHION_HOW_PREVIEW_CACHE_BYTES',
    'bytes of item photo and crop previews and model cards kept in memory (least recently used go first)',
    {
      default: 64 * MiB,
      defaultText: '64 MiB',
      min: 0,
    },
  ),
  maxClientUploadBytes: integer(
    'FASHION_HOW_MAX_CLIENT_UPLOAD_BYTES',
    "bytes of uploaded images (multipart file parts) one client's requests in flight may hold in memory together; one request holds at most FASHION_HOW_MAX_BODY_BYTES",
    { default: 64 * MiB, defaultText: '64 MiB', min: 1024 },
  ),
  maxLoadedModels: integer('FASHION_HOW_MAX_LOADED_MODELS', 'models kept loaded at once; the least recently used is unloaded to load another', {
    default: 8,
    min: 1,
    max: 1000,
  }),
  predictionLogRate: fraction(
    'FASHION_HOW_PREDICTION_LOG_RATE',
    'share of classify requests logged when they name a model directly (an alias has its own logRate)',
    0,
  ),
  predictionLogQueue: integer('FASHION_HOW_PREDICTION_LOG_QUEUE', 'logged predictions waiting to be written at most; beyond, records are dropped and counted', {
    default: 1000,
    min: 1,
    max: 1_000_000,
  }),
  predictionLogQueueBytes: integer(
    'FASHION_HOW_PREDICTION_LOG_QUEUE_BYTES',
    'bytes of photos the logged predictions waiting to be written may hold; beyond, records are dropped and counted',
    { default: 256 * MiB, defaultText: '256 MiB', min: 1 },
  ),
  predictionLogMaxAgeDays: integer('FASHION_HOW_PREDICTION_LOG_MAX_AGE_DAYS', 'logged predictions older than this many days are deleted', {
    default: 30,
    min: 1,
  }),
  predictionLogMaxRows: integer('FASHION_HOW_PREDICTION_LOG_MAX_ROWS', 'logged predictions kept at most; the oldest are deleted first', {
    default: 1_000_000,
    min: 1,
  }),
  predictionLogCrops: flag('FASHION_HOW_PREDICTION_LOG_CROPS', 'keep each logged crop (a 192 px JPEG) in the artifact store, not only its hash', false),
  shadowInFlight: integer('FASHION_HOW_SHADOW_IN_FLIGHT', 'requests a shadow candidate scores at once per alias; more are skipped and counted', {
    default: 4,
    min: 1,
    max: 10_000,
  }),
  driftReferenceItems: integer('FASHION_HOW_DRIFT_REFERENCE_ITEMS', 'training-split items a drift report scores as its reference', {
    default: 300,
    min: 30,
    max: 10_000,
  }),
  intraOpThreads: integer(
    'FASHION_HOW_INTRA_OP_THREADS',
    "ONNX Runtime threads per operator (0: the model's tuning for this host, else ONNX Runtime's choice)",
    { default: 0, min: 0, max: 1024 },
  ),
  ortLanes: integer(
    'FASHION_HOW_ORT_LANES',
    "copies of each model's ONNX Runtime session, each in a thread of its own, running batches side by side, each with cores / lanes operator threads unless FASHION_HOW_INTRA_OP_THREADS says (0: the model's tuning for this host, else 1)",
    { default: 0, min: 0, max: 64 },
  ),
  ortGraphOptimization: choice(
    'FASHION_HOW_ORT_GRAPH_OPTIMIZATION',
    "ONNX Runtime graph optimisation level for every model (tuned: the model's tuning for this host, else all)",
    ['tuned', 'all', 'extended', 'basic'] as const,
    'tuned',
  ),
  ortExecutionMode: choice(
    'FASHION_HOW_ORT_EXECUTION_MODE',
    "ONNX Runtime execution mode for every model (tuned: the model's tuning for this host, else sequential)",
    ['tuned', 'sequential', 'parallel'] as const,
    'tuned',
  ),
  ortMemoryArena: choice(
    'FASHION_HOW_ORT_MEMORY_ARENA',
    "ONNX Runtime's CPU memory arena for every model (tuned: the model's tuning for this host, else on)",
    ['tuned', 'on', 'off'] as const,
    'tuned',
  ),
  ortMemoryPattern: choice(
    'FASHION_HOW_ORT_MEMORY_PATTERN',
    "ONNX Runtime's memory pattern planning for every model (tuned: the model's tuning for this host, else on)",
    ['tuned', 'on', 'off'] as const,
    'tuned',
  ),
  modelRefreshMs: integer(
    'FASHION_HOW_MODEL_REFRESH_MS',
    'how often a server checks whether the default ensemble changed and warms the new one (on PostgreSQL a notice usually comes first)',
    {
      default: 2000,
      min: 100,
      max: 3_600_000,
    },
  ),
  introspection: flag('FASHION_HOW_INTROSPECTION', 'GraphQL introspection', true),
  landingPage: flag('FASHION_HOW_LANDING_PAGE', 'Apollo landing page at /graphql', ({ host }) => isLoopback(host), 'true on a loopback address'),
  maxDepth: integer('FASHION_HOW_MAX_QUERY_DEPTH', 'deepest GraphQL selection', { default: 12, min: 1, max: 1000 }),
  // A connection adds two levels (edges, node), which graphql-armor's depth factor of 1.5 turns into
  // 2.25 times the cost of the same fields as a plain list: 50,000 lets them through, as 20,000 did.
  maxCost: integer('FASHION_HOW_MAX_QUERY_COST', 'GraphQL query cost limit', { default: 50_000, min: 1, max: 10_000_000 }),
  maxResponseNodes: integer(
    'FASHION_HOW_MAX_RESPONSE_NODES',
    'most objects one GraphQL response may hold, estimated before it runs: a list field counts its first/limit (variables too, else its default page), nested lists multiply',
    { default: 20_000, min: 1, max: 10_000_000 },
  ),
  modelCardCost: integer('FASHION_HOW_MODEL_CARD_COST', 'query cost of one modelCard field (aliases counted), checked against FASHION_HOW_MAX_QUERY_COST', {
    default: 20_000,
    min: 0,
    max: 10_000_000,
  }),
  classifyImageCost: integer('FASHION_HOW_CLASSIFY_IMAGE_COST', 'query cost of one classified image, checked against FASHION_HOW_MAX_QUERY_COST', {
    default: 250,
    min: 0,
    max: 10_000_000,
  }),
  // Open reads suit a server on the loopback interface; a server others can reach asks for tokens.
  anonymousRead: flag(
    'FASHION_HOW_ANONYMOUS_READ',
    'queries and classify without a token (mutations always need one)',
    ({ host }) => isLoopback(host),
    'true on a loopback address',
  ),
  allowedOrigins: optionalText(
    'FASHION_HOW_ALLOWED_ORIGINS',
    'web origins (comma-separated, e.g. https://dash.example.com) whose pages may open a WebSocket to the server, besides its own; clients that send no Origin (programs) are not affected',
    { defaultText: "none: only the server's own origin", type: 'origins' },
  ),
  maxClientSockets: integer('FASHION_HOW_MAX_CLIENT_SOCKETS', 'WebSockets one address may hold open at once', { default: 16, min: 1, max: 100_000 }),
  maxClientSubscriptions: integer(
    'FASHION_HOW_MAX_CLIENT_SUBSCRIPTIONS',
    'subscriptions and operations one client (token, else address) may run at once over WebSockets',
    {
      default: 32,
      min: 1,
      max: 100_000,
    },
  ),
  endpoint: text('FASHION_HOW_ENDPOINT', 'the GraphQL endpoint an SDK client talks to', {
    default: 'http://127.0.0.1:4000/graphql',
    type: 'URL',
    scope: 'client',
  }),
  debug: flag('FASHION_HOW_DEBUG', 'the CLI prints the stack of an unexpected error', false),
  token: optionalText('FASHION_HOW_TOKEN', 'the API token an SDK client sends', { defaultText: 'none', scope: 'client' }),
} satisfies Record<string, Setting<unknown>>;

/** The settings as a Markdown table, for docs/configuration.md. */
export function settingsTable(): string {
  const cell = (value: string) => value.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const rows = Object.values(SETTINGS).map(
    (s: Setting<unknown>) =>
      `| \`${s.name}\` | ${cell(s.type)} | ${cell(s.defaultText)} | ${s.scope === 'server' ? 'server, CLI' : 'SDK client'} | ${cell(s.description)} |`,
  );
  return ['| variable | type | default | read by | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
