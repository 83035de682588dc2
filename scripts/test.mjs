// `npm test`: builds (generated code + dist/ for the CLI tests), type-checks the tests, runs vitest,
// and ends with the plain line `N passed, N failed` that CI reads.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { ensurePostgresql } from './postgresql.mjs';

const run = (command, args) => spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
const results = '.vitest-results.json';

// The formatter, the linters, the import-cycle and layout checks (npm run lint) fail the run like a test.
if (
  run('npm', ['run', '--silent', 'build']) !== 0 ||
  run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0 ||
  run('npm', ['run', '--silent', 'lint']) !== 0
) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
rmSync(results, { force: true });
// Every test that opens a database runs on SQLite and on PostgreSQL (vitest's two projects).
const postgresql = await ensurePostgresql();
const projects = [];
if (postgresql.url) {
  process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER = postgresql.url;
  if (postgresql.started) console.log(`PostgreSQL: no server answered, so the tests use a throwaway one at ${postgresql.url}`);
} else {
  projects.push('--project', 'sqlite');
  console.log(`\n!!! THE POSTGRESQL HALF OF THE TESTS DID NOT RUN: ${postgresql.reason} !!!\n`);
}
let status;
try {
  status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...projects, ...process.argv.slice(2)]);
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
if (!postgresql.url) console.log(`!!! PostgreSQL half not run: ${postgresql.reason}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 && passed > 0 ? 0 : 1);
