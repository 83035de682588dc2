// Opens the database named by the config: creates the SQLite file's folder, applies migrations and
// returns a Prisma client running on the JavaScript engine with the better-sqlite3 driver adapter.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from './generated/client.js';
import { migrate } from './migrate.js';

export type Db = PrismaClient;
export type { Prisma } from './generated/client.js';

function sqliteFile(databaseUrl: string): string | null {
  if (!databaseUrl.startsWith('file:')) return null;
  const target = databaseUrl.slice('file:'.length);
  return target.startsWith('//') ? fileURLToPath(databaseUrl) : path.resolve(target);
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
  const file = sqliteFile(databaseUrl);
  if (!file) {
    throw new Error(`DATABASE_URL must be a SQLite file URL (file:/path/to/db.sqlite) in this version, got a "${databaseUrl.split(':')[0]}" URL`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  // Several processes write one file (the server's training progress, a CLI import, an evaluation):
  // a writer waits up to BUSY_TIMEOUT_MS for another's transaction instead of failing with SQLITE_BUSY,
  // and write-ahead logging lets readers go on while one writes.
  const db = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${file}`, timeout: BUSY_TIMEOUT_MS }) });
  try {
    await migrate(db, `file:${file}`);
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
