// Applies the committed migrations at start-up through Prisma's own `migrate deploy` (run only when
// some are pending), and refuses a database that has migrations this version does not know: that
// database belongs to a newer fashion-how, and writing to it could corrupt its data.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { PrismaClient } from './generated/client.js';

/** The package root: two levels above this file in both src/db and dist/db. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type DatabaseFlavour = 'sqlite' | 'postgresql';

/** Each flavour's migrations and the Prisma CLI configuration that applies them. */
const FLAVOURS: Record<DatabaseFlavour, { migrations: string; config: string }> = {
  sqlite: { migrations: path.join(PACKAGE_ROOT, 'prisma', 'sqlite', 'migrations'), config: 'prisma.config.ts' },
  postgresql: { migrations: path.join(PACKAGE_ROOT, 'prisma', 'postgresql', 'migrations'), config: 'prisma.postgresql.config.ts' },
};

export class SchemaTooNewError extends Error {
  constructor(readonly unknownMigrations: string[]) {
    super(
      `the database schema is newer than this version of fashion-how: it has migrations this version does not know ` +
        `(${unknownMigrations.join(', ')}). Upgrade fashion-how, or point DATABASE_URL at another database.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

export async function knownMigrations(flavour: DatabaseFlavour = 'sqlite'): Promise<string[]> {
  const entries = await readdir(FLAVOURS[flavour].migrations, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Names of the migrations the database has applied; empty for a new database. */
export async function appliedMigrations(db: PrismaClient): Promise<string[]> {
  try {
    const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    return rows.map((r) => r.migration_name).sort();
  } catch (error) {
    if (/no such table|does not exist/i.test(String((error as Error).message))) return [];
    throw error;
  }
}

/** Brings the database up to this version's schema; returns the migrations it applied. */
export async function migrate(db: PrismaClient, databaseUrl: string, flavour: DatabaseFlavour): Promise<string[]> {
  const [known, applied] = await Promise.all([knownMigrations(flavour), appliedMigrations(db)]);
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new SchemaTooNewError(unknown);
  const pending = known.filter((name) => !applied.includes(name));
  if (pending.length === 0) return [];
  const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  // Prisma's schema engine (WebAssembly) cannot open a SQLite database in write-ahead-log mode, which
  // openDatabase turns on again once the migrations are in. On PostgreSQL, migrate deploy holds an
  // advisory lock, so replicas starting together apply each migration once.
  if (flavour === 'sqlite') await db.$queryRawUnsafe('PRAGMA journal_mode = DELETE');
  try {
    const hook = path.join(PACKAGE_ROOT, 'prisma', 'unref-idle-timers.cjs');
    await promisify(execFile)(process.execPath, ['--require', hook, prismaCli, 'migrate', 'deploy', '--config', FLAVOURS[flavour].config], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      timeout: 120_000,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`applying database migrations failed: ${(stderr || stdout).trim().split('\n').slice(-5).join(' | ')}`);
  }
  return pending;
}
