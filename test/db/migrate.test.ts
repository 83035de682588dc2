import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { appliedMigrations, knownMigrations, SchemaTooNewError } from '../../src/db/migrate.js';
import { useScratchDir } from '../helpers.js';

const scratch = useScratchDir();

describe('migrations at start-up', () => {
  it('creates a new database with every committed migration, and reopening applies nothing twice', async () => {
    const url = `file:${path.join(scratch.dir, 'nested', 'folder', 'fresh.db')}`;
    const db = await openDatabase(url);
    expect(await appliedMigrations(db)).toEqual(await knownMigrations());
    expect(await db.dataset.count()).toBe(0);
    await db.$disconnect();
    const again = await openDatabase(url);
    expect(await appliedMigrations(again)).toEqual(await knownMigrations());
    await again.$disconnect();
  });

  it('refuses to start against a schema newer than it knows, naming the unknown migration', async () => {
    const url = `file:${path.join(scratch.dir, 'newer.db')}`;
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

  it('names the problem when DATABASE_URL is not a SQLite file', async () => {
    await expect(openDatabase('mysql://localhost/db')).rejects.toThrow(/must be a SQLite file URL.*"mysql" URL/);
  });
});
