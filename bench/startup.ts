// What a `fashion-how` command costs before it does anything: the built CLI started for `--help` and for
// `datasets` (which opens the SQLite database), side by side with the same commands with the modules the
// CLI now loads only when a command needs them imported up front (the HTTP server, the AWS SDK, pg with
// PostgreSQL's Prisma client, graphile-worker), as every command did before. Runs alternate between the
// two so the machine's noise falls on both; it prints the median wall time and CPU time of each, and the
// ratios. Needs the build (npm run build).
//   npm run bench:startup [-- --runs 15]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, percentile } from './servedModel.js';

const runs = Number(arg('runs', '15'));
const cli = path.resolve('dist/cli.js');
const dir = await mkdtemp(path.join(os.tmpdir(), 'fashion-how-startup-'));
// The baseline: what the CLI imported on every start before these modules became lazy.
const eager = path.join(dir, 'eager.mjs');
await writeFile(
  eager,
  ['./dist/api/server.js', '@aws-sdk/client-s3', 'pg', '@prisma/adapter-pg', './dist/db/generated-postgresql/client.js', 'graphile-worker']
    // Resolved here, from the project: the file itself lies in a temporary folder with no node_modules.
    .map((module) => `await import(${JSON.stringify(module.startsWith('.') ? pathToFileURL(path.resolve(module)).href : import.meta.resolve(module))});`)
    .join('\n'),
);
const env = { ...process.env, FASHION_HOW_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: '', LOG_LEVEL: 'silent' };

/** One start: wall seconds, and CPU seconds of the child (its rusage, read by bash's `times`). */
function start(preload: boolean, args: string[]): { wall: number; cpu: number } {
  const node = ['node', ...(preload ? ['--import', `file://${eager}`] : []), cli, ...args].map((a) => `'${a}'`).join(' ');
  const began = process.hrtime.bigint();
  const result = spawnSync('bash', ['-c', `${node} > /dev/null; status=$?; times; exit $status`], { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - began) / 1e9;
  if (result.status !== 0) throw new Error(`${node} failed: ${result.stderr}`);
  // `times` prints the shell's own, then its children's user and system time: "0m0.640s 0m0.210s".
  const children = result.stdout.trim().split('\n').at(-1)!.split(/\s+/);
  const seconds = (text: string) => {
    const [, minutes, secs] = /(\d+)m([\d.]+)s/.exec(text)!;
    return Number(minutes) * 60 + Number(secs);
  };
  return { wall, cpu: seconds(children[0]!) + seconds(children[1]!) };
}

console.log(`fashion-how start-up, ${runs} runs each, alternating (median wall s / median CPU s)`);
for (const args of [['--help'], ['datasets']]) {
  const lazy: { wall: number; cpu: number }[] = [];
  const before: { wall: number; cpu: number }[] = [];
  start(false, args); // the first start warms the file cache and makes the database
  for (let i = 0; i < runs; i++) {
    lazy.push(start(false, args));
    before.push(start(true, args));
  }
  const median = (xs: { wall: number; cpu: number }[], key: 'wall' | 'cpu') =>
    percentile(
      xs.map((x) => x[key]),
      50,
    );
  const [lw, lc, bw, bc] = [median(lazy, 'wall'), median(lazy, 'cpu'), median(before, 'wall'), median(before, 'cpu')];
  console.log(
    `fashion-how ${args.join(' ').padEnd(9)} lazy ${lw.toFixed(2)} s / ${lc.toFixed(2)} CPU s   all imported up front ${bw.toFixed(2)} s / ${bc.toFixed(2)} CPU s   ` +
      `ratio ${(lw / bw).toFixed(2)} wall, ${(lc / bc).toFixed(2)} CPU`,
  );
}
await rm(dir, { recursive: true, force: true });
