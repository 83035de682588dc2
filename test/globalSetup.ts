// Once per `vitest run`: afterwards, remove the fixtures this run's test files shared (test/fixtures/
// shared.ts) and drop the PostgreSQL databases its tests made (their names carry FASHION_HOW_TEST_RUN, so
// a run never drops another's).
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { POSTGRESQL_SERVER, TEST_DATABASE_PREFIX } from './fixtures/databases.js';
import { sharedFixtureRoot } from './fixtures/shared.js';

export default function setup() {
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
