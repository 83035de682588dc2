// Keeps the two database schemas in step, offline (`prisma migrate dev` needs a network engine here).
//   node scripts/migration.mjs            regenerate prisma/postgresql/schema.prisma from the SQLite one
//   node scripts/migration.mjs NAME       also write migration NAME for both databases: the difference
//                                         between the schemas committed at HEAD and the working files
// prisma/sqlite/schema.prisma is the one to edit; the PostgreSQL twin differs only in provider and in
// where its client is generated, and is never edited by hand.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SQLITE = 'prisma/sqlite/schema.prisma';
const POSTGRESQL = 'prisma/postgresql/schema.prisma';

/** The PostgreSQL twin of a SQLite schema text. */
export function postgresqlTwin(sqliteSchema) {
  const swaps = [
    ['(SQLite flavour)', '(PostgreSQL flavour, generated from prisma/sqlite/schema.prisma by scripts/migration.mjs)'],
    ['provider = "sqlite"', 'provider = "postgresql"'],
    ['output       = "../../src/db/generated"', 'output       = "../../src/db/generated-postgresql"'],
  ];
  return swaps.reduce((text, [from, to]) => {
    if (!text.includes(from)) throw new Error(`${SQLITE} no longer contains ${JSON.stringify(from)}; update scripts/migration.mjs`);
    return text.replace(from, to);
  }, sqliteSchema);
}

function diff(config, databaseUrl, from, to) {
  const fromArgs = from ? ['--from-schema-datamodel', from] : ['--from-empty'];
  return execFileSync('npx', ['prisma', 'migrate', 'diff', '--config', config, ...fromArgs, '--to-schema-datamodel', to, '--script'], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function nextNumber(dir) {
  const numbers = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => Number.parseInt(e.name, 10))
    .filter(Number.isFinite);
  return String(Math.max(0, ...numbers) + 1).padStart(4, '0');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const name = process.argv[2];
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'fashion-how-migration-'));
  const previous = (file) => {
    const copy = path.join(scratch, file.replaceAll('/', '_'));
    writeFileSync(copy, execFileSync('git', ['show', `HEAD:${file}`], { encoding: 'utf8' }));
    return copy;
  };
  const before = name ? { sqlite: previous(SQLITE), postgresql: previous(POSTGRESQL) } : null;
  mkdirSync(path.dirname(POSTGRESQL), { recursive: true });
  writeFileSync(POSTGRESQL, postgresqlTwin(readFileSync(SQLITE, 'utf8')));
  if (name) {
    for (const [flavour, config, url, from, to] of [
      ['sqlite', 'prisma.config.ts', `file:${path.join(scratch, 'diff.db')}`, before.sqlite, SQLITE],
      ['postgresql', 'prisma.postgresql.config.ts', process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres', before.postgresql, POSTGRESQL],
    ]) {
      const dir = `prisma/${flavour}/migrations`;
      const folder = path.join(dir, `${nextNumber(dir)}_${name}`);
      mkdirSync(folder);
      writeFileSync(path.join(folder, 'migration.sql'), diff(config, url, from, to));
      console.log(`wrote ${folder}/migration.sql`);
    }
  }
}
