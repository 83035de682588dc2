// The PostgreSQL server the test suite's postgresql half uses: the one at FASHION_HOW_TEST_POSTGRESQL_SERVER
// (default postgresql://postgres@127.0.0.1:5432/test) when it answers, else a throwaway cluster started
// from the installed programs in a temporary folder (as the postgres user: the server refuses root).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_SERVER = 'postgresql://postgres@127.0.0.1:5432/test';

/** The folder holding initdb and pg_ctl (Debian's layout, newest version first), or null. */
export function postgresqlPrograms() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : null;
}

/** Whether a server answers at the URL: a real connection and query through the pg driver. */
function answers(url) {
  const probe = `const pg = require('pg'); const c = new pg.Client({ connectionString: ${JSON.stringify(url)}, connectionTimeoutMillis: 3000 });
c.connect().then(() => c.query('SELECT 1')).then(() => process.exit(0), () => process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** { url, stop(), started } for a server that answers, or { url: null, reason } when there is none. */
export async function ensurePostgresql() {
  const wanted = process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER || DEFAULT_SERVER;
  if (answers(wanted)) return { url: wanted, started: false, stop() {} };
  const bin = postgresqlPrograms();
  if (!bin) return { url: null, reason: `no server answers at ${wanted} and PostgreSQL's programs are not installed (apt-get install postgresql)` };
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fashion-how-postgresql-'));
  const port = await freePort();
  try {
    if (asRoot)
      chownSync(
        dir,
        Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
        Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
      );
    const as = (program, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args]);
    const run = (program, args) => {
      const [command, argv] = as(program, args);
      execFileSync(command, argv, { stdio: 'ignore', timeout: 120_000 });
    };
    run('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '-A', 'trust']);
    run('pg_ctl', [
      '-D',
      path.join(dir, 'data'),
      '-l',
      path.join(dir, 'server.log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      started: true,
      stop() {
        spawnSync(...as('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']), { stdio: 'ignore' });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { url: null, reason: `no server answers at ${wanted}, and starting a throwaway one from ${bin} failed: ${error.message}` };
  }
}
