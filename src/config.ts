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
  imageLimits: ImageLimits;
  /** How many images are decoded at once while validating an import. */
  importConcurrency: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Python interpreter for the training worker; undefined tries /usr/bin/python3, python3, python. */
  python?: string;
  /** Training jobs at once; undefined = one per CUDA device (at least one). */
  trainingConcurrency?: number;
}

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
  return {
    dataDir,
    databaseUrl: env.DATABASE_URL || `file:${path.join(dataDir, 'fashion-how.db')}`,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    maxBodyBytes: integer(env, 'FASHION_HOW_MAX_BODY_BYTES', 32 * 1024 * 1024, 1024),
    imageLimits: {
      maxPixels: integer(env, 'FASHION_HOW_MAX_IMAGE_PIXELS', 40_000_000, 1),
      maxBytes: integer(env, 'FASHION_HOW_MAX_IMAGE_BYTES', 10 * 1024 * 1024, 1),
    },
    importConcurrency: integer(env, 'FASHION_HOW_IMPORT_CONCURRENCY', Math.max(2, os.availableParallelism() * 2), 1, 256),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    python: env.FASHION_HOW_PYTHON || undefined,
    trainingConcurrency: env.FASHION_HOW_TRAINING_CONCURRENCY ? integer(env, 'FASHION_HOW_TRAINING_CONCURRENCY', 1, 1, 256) : undefined,
  };
}

/** The environment variables loadConfig reads, with their defaults, for `--help` and the README. */
export const CONFIG_VARIABLES: ReadonlyArray<[name: string, meaning: string]> = [
  ['FASHION_HOW_DATA_DIR', 'folder for the SQLite file and artifacts (default ./data)'],
  ['DATABASE_URL', 'database to use (default file:<data dir>/fashion-how.db)'],
  ['HOST', 'address the server listens on (default 127.0.0.1)'],
  ['PORT', 'port the server listens on (default 4000)'],
  ['FASHION_HOW_MAX_BODY_BYTES', 'largest request body (default 33554432)'],
  ['FASHION_HOW_MAX_IMAGE_PIXELS', 'largest image in pixels (default 40000000)'],
  ['FASHION_HOW_MAX_IMAGE_BYTES', 'largest encoded image from a client (default 10485760)'],
  ['FASHION_HOW_IMPORT_CONCURRENCY', 'images decoded at once during import (default 2 x cores)'],
  ['LOG_LEVEL', 'debug | info | warn | error | silent (default info)'],
  ['FASHION_HOW_PYTHON', 'Python with torch + torchvision for training (default: first of /usr/bin/python3, python3, python that works)'],
  ['FASHION_HOW_TRAINING_CONCURRENCY', 'training jobs at once (default: one per CUDA device, at least 1)'],
];
