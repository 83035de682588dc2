// Opens the database named by the config: SQLite (a file: URL, the embedded default) or PostgreSQL (a
// postgresql:// URL, for several hosts). Applies migrations and returns a Prisma client on the
// JavaScript engine with the flavour's driver adapter. Prisma generates one client per provider; both
// come from one schema (the PostgreSQL one is a generated twin), so the services see one type, Db.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/client.js';
import { PrismaClient as PostgresqlClient } from './generated-postgresql/client.js';
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
  if (flavour === 'postgresql') return openPostgresql(databaseUrl);
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

/** The URL's server and credentials, without the password, for messages. */
function describeServer(url: URL): string {
  return `${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.host}`;
}

/** Creates the URL's database when the server has none of that name, as SQLite creates its file; a
 *  user without the right to create databases gets a message that says so. */
async function ensurePostgresqlDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL names no database: add one after the host, e.g. postgresql://user@host:5432/fashion_how');
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') {
      throw new Error(`cannot reach PostgreSQL at ${describeServer(url)}: ${(error as Error).message}`);
    }
  } finally {
    await probe.end().catch(() => undefined);
  }
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString() });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    // Another process starting at the same moment may have created it (42P04: duplicate database).
    if ((error as { code?: string }).code !== '42P04') {
      throw new Error(`PostgreSQL at ${describeServer(url)} has no database "${name}", and creating it failed: ${(error as Error).message}`);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function openPostgresql(databaseUrl: string): Promise<Db> {
  await ensurePostgresqlDatabase(databaseUrl);
  // The PostgreSQL client has the same models, fields and methods as the SQLite one (one schema, two
  // providers); only its nominal type differs.
  const db = new PostgresqlClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) }) as unknown as Db;
  try {
    await migrate(db, databaseUrl, 'postgresql');
  } catch (error) {
    await db.$disconnect();
    throw error;
  }
  return db;
}
