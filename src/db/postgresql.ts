// Opens a PostgreSQL database for db/client.ts (which loads this module only for a postgresql:// URL):
// creates the database when the server has none of that name, applies migrations, and returns Prisma's
// PostgreSQL client on the pg driver adapter.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { PrismaClient as Db } from './generated/client.js';
import { PrismaClient as PostgresqlClient } from './generated-postgresql/client.js';
import { migrate } from './migrate.js';

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

export async function openPostgresql(databaseUrl: string): Promise<Db> {
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
