// `npm test`: builds (generated code + dist/ for the CLI tests), type-checks the tests, lints, runs every
// suite (vitest's sqlite and postgresql projects), and ends with the plain line `N passed, N failed`
// that CI reads. `npm run test:quick` (--quick) is the inner loop: no build, type-check or lint, only the
// unit and in-process suites (vitest.config.ts's QUICK) on SQLite, ending with the same line.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { ensurePostgresql } from './postgresql.mjs';

const run = (command, args) => spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
const results = '.vitest-results.json';
const quick = process.argv.includes('--quick');
const vitestArgs = process.argv.slice(2).filter((arg) => arg !== '--quick');

/** Runs the commands at once, each one's output printed whole when it ends; whether all succeeded. */
async function together(commands) {
  const statuses = await Promise.all(
    commands.map(
      ([command, ...args]) =>
        new Promise((resolve) => {
          const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
          const output = [];
          child.stdout.on('data', (chunk) => output.push(chunk));
          child.stderr.on('data', (chunk) => output.push(chunk));
          child.on('error', (error) => output.push(Buffer.from(`${error.message}\n`)));
          child.on('close', (code) => {
            process.stdout.write(`> ${[command, ...args].join(' ')}: ${code === 0 ? 'ok' : `failed (${code})`}\n${Buffer.concat(output)}`);
            resolve(code);
          });
        }),
    ),
  );
  return statuses.every((status) => status === 0);
}

// The generated code first (the type-check reads it); then, at once on the two cores (each is one thread
// most of its time), compiling dist/ and web/dist, type-checking the tests, and the formatter, linters,
// import-cycle and layout checks (npm run lint), which fail the run like a test.
if (
  !quick &&
  (run('npm', ['run', '--silent', 'generate']) !== 0 ||
    !(await together([
      ['npm', 'run', '--silent', 'compile'],
      ['npx', 'tsc', '-p', 'tsconfig.json', '--noEmit'],
      ['npm', 'run', '--silent', 'lint'],
    ])))
) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
rmSync(results, { force: true });
// Every test that opens a database runs on SQLite and on PostgreSQL (vitest's two projects) where the
// database changes what it tests; the quick lane is SQLite's alone.
const postgresql = quick ? { url: null } : await ensurePostgresql();
const projects = [];
if (quick) process.env.FASHION_HOW_TEST_LANE = 'quick';
else if (postgresql.url) {
  process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER = postgresql.url;
  if (postgresql.started) console.log(`PostgreSQL: no server answered, so the tests use a throwaway one at ${postgresql.url}`);
} else {
  projects.push('--project', 'sqlite');
  console.log(`\n!!! THE POSTGRESQL HALF OF THE TESTS DID NOT RUN: ${postgresql.reason} !!!\n`);
}
let status;
try {
  status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...projects, ...vitestArgs]);
} finally {
  postgresql.stop?.();
}
let passed = 0;
let failed = 0;
try {
  const summary = JSON.parse(readFileSync(results, 'utf8'));
  passed = summary.numPassedTests;
  failed = summary.numFailedTests + (summary.numTotalTestSuites > 0 && !summary.success && summary.numFailedTests === 0 ? 1 : 0);
} catch {
  failed = 1;
}
if (!quick && !postgresql.url) console.log(`!!! PostgreSQL half not run: ${postgresql.reason}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 && passed > 0 ? 0 : 1);
