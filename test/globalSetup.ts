// Once per `vitest run`: first, the databases every test's own database is copied from (the current
// schema, migrated once: test/fixtures/databases.ts's seedTestDatabase); afterwards, remove the fixtures
// this run's test files shared (test/fixtures/shared.ts) and drop the PostgreSQL databases its tests made
// (their names carry FASHION_HOW_TEST_RUN, so a run never drops another's).
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/client.js';
import { POSTGRESQL_SERVER, SCHEMA_TEMPLATES, TEST_DATABASE_PREFIX } from './fixtures/databases.js';
import { sharedFixtureRoot } from './fixtures/shared.js';

async function makeSchemaTemplates() {
  await mkdir(path.dirname(SCHEMA_TEMPLATES.sqliteFile), { recursive: true });
  const sqlite = await openDatabase(`file:${SCHEMA_TEMPLATES.sqliteFile}`);
  await sqlite.$disconnect();
  // Closing the last connection folds the write-ahead log into the file: the file alone is the database.
  if (existsSync(`${SCHEMA_TEMPLATES.sqliteFile}-wal`)) throw new Error('the SQLite schema template kept a write-ahead log after closing');
  // Only where the postgresql project runs (scripts/test.mjs names its server); without it, tests migrate.
  if (!process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER || process.env.FASHION_HOW_TEST_LANE === 'quick') return;
  const url = new URL(POSTGRESQL_SERVER);
  url.pathname = `/${SCHEMA_TEMPLATES.postgresqlName}`;
  try {
    const postgresql = await openDatabase(url.toString());
    await postgresql.$disconnect();
    await writeFile(SCHEMA_TEMPLATES.postgresqlMade, SCHEMA_TEMPLATES.postgresqlName);
  } catch (error) {
    console.warn(`no PostgreSQL schema template (each test's database migrates on its own): ${(error as Error).message}`);
  }
}

export default async function setup() {
  await makeSchemaTemplates();
  return async () => {
    await rm(sharedFixtureRoot(), { recursive: true, force: true });
    const client = new pg.Client({ connectionString: POSTGRESQL_SERVER });
    try {
      await client.connect();
    } catch {
      return; // no server: the postgresql project did not run, and made nothing
    }
    try {
      const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
        `${TEST_DATABASE_PREFIX}${process.env.FASHION_HOW_TEST_RUN}_%`,
      ]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
}
