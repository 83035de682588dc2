import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { appliedMigrations, knownMigrations, SchemaTooNewError } from '../../src/db/migrate.js';
import { TEST_DATABASE, testDatabaseUrl, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();

/** A new database: a SQLite file in a new folder, or a PostgreSQL database the server does not have yet. */
const newDatabase = (name: string) =>
  TEST_DATABASE === 'postgresql' ? testDatabaseUrl(path.join(scratch.dir, name)) : `file:${path.join(scratch.dir, 'nested', 'folder', `${name}.db`)}`;

describe(`migrations at start-up (${TEST_DATABASE})`, () => {
  it('creates a new database with every committed migration, and reopening applies nothing twice', async () => {
    const url = newDatabase('fresh');
    const db = await openDatabase(url);
    expect(await appliedMigrations(db)).toEqual(await knownMigrations(TEST_DATABASE));
    expect(await db.dataset.count()).toBe(0);
    await db.$disconnect();
    const again = await openDatabase(url);
    expect(await appliedMigrations(again)).toEqual(await knownMigrations(TEST_DATABASE));
    await again.$disconnect();
  });

  it('refuses to start against a schema newer than it knows, naming the unknown migration', async () => {
    const url = newDatabase('newer');
    const db = await openDatabase(url);
    await db.$executeRawUnsafe(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('future', 'x', CURRENT_TIMESTAMP, '9999_from_the_future', CURRENT_TIMESTAMP, 1)`,
    );
    await db.$disconnect();
    const error = await openDatabase(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect((error as Error).message).toContain('9999_from_the_future');
    expect((error as Error).message).toMatch(/newer than this version of fashion-how/);
  });

  it('names the problem when DATABASE_URL is neither a SQLite file nor PostgreSQL', async () => {
    await expect(openDatabase('mysql://localhost/db')).rejects.toThrow(/must be a SQLite file URL .* or a PostgreSQL URL .*"mysql" URL/);
  });
});

describe('the PostgreSQL schema', () => {
  it('is the generated twin of the SQLite schema: only the provider and the client folder differ', async () => {
    const { readFile } = await import('node:fs/promises');
    // @ts-expect-error: a plain .mjs script without type declarations
    const { postgresqlTwin } = await import('../../scripts/migration.mjs');
    const sqlite = await readFile('prisma/sqlite/schema.prisma', 'utf8');
    const twin = await readFile('prisma/postgresql/schema.prisma', 'utf8');
    expect(twin).toBe(postgresqlTwin(sqlite));
    const differing = sqlite.split('\n').filter((line, i) => line !== twin.split('\n')[i]);
    expect(differing.map((l) => l.trim().split(/\s+/)[0])).toEqual(['//', 'output', 'provider']);
  });
});
