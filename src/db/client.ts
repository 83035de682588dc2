// Opens the database named by the config: SQLite (a file: URL, the embedded default) or PostgreSQL (a
// postgresql:// URL, for several hosts). Applies migrations and returns a Prisma client on the
// JavaScript engine with the flavour's driver adapter. Prisma generates one client per provider; both
// come from one schema (the PostgreSQL one is a generated twin), so the services see one type, Db.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from './generated/client.js';
import { type DatabaseFlavour, migrate } from './migrate.js';

export type Db = PrismaClient;
export type { Prisma } from './generated/client.js';
export type { DatabaseFlavour } from './migrate.js';

function sqliteFile(databaseUrl: string): string | null {
  if (!databaseUrl.startsWith('file:')) return null;
  const target = databaseUrl.slice('file:'.length);
  return target.startsWith('//') ? fileURLToPath(databaseUrl) : path.resolve(target);
}

/** Which database a URL names, or null when it names none this version supports. */
export function flavourOf(databaseUrl: string): DatabaseFlavour | null {
  if (databaseUrl.startsWith('file:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//i.test(databaseUrl)) return 'postgresql';
  return null;
}

/** Whether the database answers a trivial query (health and readiness checks). */
export function databaseReachable(db: Db): Promise<boolean> {
  return db.$queryRawUnsafe('SELECT 1').then(
    () => true,
    () => false,
  );
}

/** How long a write waits for another connection's transaction (a large import holds one for seconds). */
export const BUSY_TIMEOUT_MS = 60_000;

export async function openDatabase(databaseUrl: string): Promise<Db> {
  const flavour = flavourOf(databaseUrl);
  // PostgreSQL's driver, adapter and client are loaded only for a PostgreSQL URL: together they are about
  // 0.2 s of the start of every process on SQLite, the default.
  if (flavour === 'postgresql') return (await import('./postgresql.js')).openPostgresql(databaseUrl);
  if (flavour !== 'sqlite') {
    throw new Error(
      `DATABASE_URL must be a SQLite file URL (file:/path/to/db.sqlite) or a PostgreSQL URL (postgresql://user@host:5432/db), got a "${databaseUrl.split(':')[0]}" URL`,
    );
  }
  const file = sqliteFile(databaseUrl)!;
  await mkdir(path.dirname(file), { recursive: true });
  // Several processes write one file (the server's training progress, a CLI import, an evaluation):
  // a writer waits up to BUSY_TIMEOUT_MS for another's transaction instead of failing with SQLITE_BUSY,
  // and write-ahead logging lets readers go on while one writes.
  const db = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${file}`, timeout: BUSY_TIMEOUT_MS }) });
  try {
    await migrate(db, `file:${file}`, 'sqlite');
    await db.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    // In WAL mode NORMAL still survives a crashed process (a power cut may lose the last commits), and
    // it spares an fsync per commit.
    await db.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
  } catch (error) {
    await db.$disconnect();
    throw error;
  }
  return db;
}
