// Prisma CLI configuration. The JavaScript schema engine with the better-sqlite3 adapter lets
// generate / migrate deploy run offline (Prisma's native engine download is unreachable here).
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { defineConfig } from 'prisma/config';

// The schema reads env("DATABASE_URL"); without it the CLI falls back to downloading an engine.
process.env.DATABASE_URL ??= `file:${path.resolve('data/fashion-how.db')}`;
const url = process.env.DATABASE_URL;

export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: path.join('prisma', 'sqlite', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'sqlite', 'migrations') },
  adapter: async () => new PrismaBetterSQLite3({ url }),
});
