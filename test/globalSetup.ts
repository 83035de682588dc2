// Once per `vitest run`: afterwards, drop the PostgreSQL databases this run's tests made (their names
// carry FASHION_HOW_TEST_RUN, so a run never drops another's).
import pg from 'pg';
import { POSTGRESQL_SERVER, TEST_DATABASE_PREFIX } from './fixtures/databases.js';

export default function setup() {
  return async () => {
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
