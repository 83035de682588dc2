// `npm test`: builds (generated code + dist/ for the CLI tests), type-checks the tests, runs vitest,
// and ends with the plain line `N passed, N failed` that CI reads.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const run = (command, args) => spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
const results = '.vitest-results.json';

if (run('npm', ['run', '--silent', 'build']) !== 0 || run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
rmSync(results, { force: true });
const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
try {
  const summary = JSON.parse(readFileSync(results, 'utf8'));
  passed = summary.numPassedTests;
  failed = summary.numFailedTests + (summary.numTotalTestSuites > 0 && !summary.success && summary.numFailedTests === 0 ? 1 : 0);
} catch {
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 && passed > 0 ? 0 : 1);
