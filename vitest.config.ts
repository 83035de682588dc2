import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { sharedFixtureRoot } from './test/fixtures/shared.js';

// The PostgreSQL server the postgresql project makes its databases in (scripts/test.mjs finds one, or
// starts a throwaway one, and says so loudly when it cannot), and this run's mark in their names.
const postgresqlServer = process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER || 'postgresql://postgres@127.0.0.1:5432/test';
process.env.FASHION_HOW_TEST_RUN ??= randomBytes(3).toString('hex');
// One probe of the training Python per run: every app and CLI the tests start keeps what it found in the
// run's fixture root (the product's default is per data folder, and each test has its own).
process.env.FASHION_HOW_PYTHON_CACHE_DIR ??= path.join(sharedFixtureRoot(), 'python');

/** Tests that never open a database run once. */
const WITHOUT_DATABASE = [
  'test/schema.test.ts',
  'test/settings.test.ts',
  'test/data/split.test.ts',
  'test/data/synthRealistic.test.ts',
  'test/data/labelSchema.test.ts',
  'test/data/image.test.ts',
  'test/reports/pareto.test.ts',
  'test/reports/metrics.test.ts',
  'test/reports/metricsTable.test.ts',
  'test/reports/drift.test.ts',
  'test/inference/batcher.test.ts',
  'test/inference/onnxThread.test.ts',
  'test/inference/ensembleFit.test.ts',
  'test/training/worker.test.ts',
  'test/training/preprocessParity.test.ts',
  'test/training/options.test.ts',
  'test/data/synthSilhouette.test.ts',
  'test/storage/artifactStore.test.ts',
  'test/seasons/profiles.test.ts',
  'test/seasons/vipsResample.test.ts',
  'test/training/pythonCache.test.ts',
];

/** Tests that open a database but test nothing that differs between the two: serving, fairness, the
 *  dashboard, the SDK, ensemble fitting's search, quantization, aliases, canaries and shadows, and the
 *  worker's weights and recipe read and write the same rows through the same Prisma calls on either. They
 *  run on SQLite only. What does differ is tested on both: migrations, imports' transactions, keyset
 *  pagination, the job queue and its workers, heartbeats and recovery, LISTEN/NOTIFY subscriptions and
 *  replicas, reports' bulk writes, the prediction log's writes, windows and retention, distillation through
 *  the queue, the CLI's train (on PostgreSQL it works the job queue), and faults under concurrent writers.
 *  A file that holds both kinds is split (rollout.test.ts and predictionLog.test.ts; cli.test.ts and
 *  cliQueue.test.ts). */
const ONE_DATABASE = [
  'test/web/dashboard.test.ts',
  'test/web/race.test.ts',
  'test/web/predictions.test.ts',
  'test/inference/serving.test.ts',
  'test/inference/fairness.test.ts',
  'test/inference/fitEnsemble.test.ts',
  'test/inference/rollout.test.ts',
  'test/inference/quantize.test.ts',
  'test/cli.test.ts',
  'test/sdk/sdk.test.ts',
  'test/sdk/live.test.ts',
  'test/training/weights.test.ts',
  'test/training/recipe.test.ts',
  'test/training/backbones.test.ts',
  'test/training/raceSurfaces.test.ts',
  'test/data/upload.test.ts',
  'test/hostile/modelChecks.test.ts',
  'test/hostile/killNine.test.ts',
  'test/hostile/csvImport.test.ts',
  'test/seasons/submission.test.ts',
  'test/hostile/preAuth.test.ts',
  'test/hostile/heavyReads.test.ts',
  'test/hostile/refusalGate.test.ts',
  'test/seasons/seasonGate.test.ts',
];

/** What a one-database file above does through SQLite, done again where PostgreSQL changes it: the CLI's
 *  train works PostgreSQL's job queue (cli.test.ts covers the rest of the command, and SQLite's queue). */
const POSTGRESQL_ONLY = ['test/cliQueue.test.ts'];

/** `npm run test:quick`, the inner loop: unit tests and suites that run the platform in the test's own
 *  process, on SQLite. None needs the build (no CLI, no dashboard) and none trains more than the tiny
 *  pair shared by the run (test/fixtures/training.ts); under two minutes on the project's 2-core machine.
 *  `npm test` runs these too, with everything else. */
const QUICK = [
  // Not the worker (it trains), the package's resize port against sharp (200 photos through a Python
  // port of libvips' resize: 50 s alone, which kept the lane over its two minutes), nor the kept probe's
  // test (it probes the interpreter eight times, torch imported each time).
  ...WITHOUT_DATABASE.filter(
    (file) => !['test/training/worker.test.ts', 'test/seasons/vipsResample.test.ts', 'test/training/pythonCache.test.ts'].includes(file),
  ),
  'test/graphql.test.ts',
  'test/pagination.test.ts',
  'test/data/import.test.ts',
  'test/db/migrate.test.ts',
  'test/reports/labelIssues.test.ts',
  'test/sdk/live.test.ts',
  'test/inference/serving.test.ts',
  'test/inference/fairness.test.ts',
  'test/inference/fitEnsemble.test.ts',
  'test/data/upload.test.ts',
];

/** The files that took longest on the project's 2-core machine (2026-12-07), longest first. A clean clone
 *  (CI) has no durations from a last run, so vitest would order files by size and could leave a short
 *  file with one long test (backbones.test.ts) running alone at the end of the run. */
const LONGEST = [
  'test/training/backbones.test.ts',
  'test/training/raceSurfaces.test.ts',
  'test/web/dashboard.test.ts',
  'test/cli.test.ts',
  'test/training/worker.test.ts',
  'test/faults.test.ts',
  'test/reports/labelReview.test.ts',
  'test/training/distillation.test.ts',
  'test/cluster.test.ts',
  'test/inference/rollout.test.ts',
  'test/training/race.test.ts',
  'test/training/workerHosts.test.ts',
];

/** vitest's order (its last run's durations, longest first), or, while a file has none, LONGEST first. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const file = (spec: TestSpecification) => path.relative(this.ctx.config.root, spec.moduleId);
    if (sorted.every((spec) => this.ctx.cache.getFileTestResults(`${spec.project.name}:${file(spec)}`))) return sorted;
    const rank = (spec: TestSpecification) => (LONGEST.includes(file(spec)) ? LONGEST.indexOf(file(spec)) : LONGEST.length);
    return sorted
      .map((spec, order) => ({ spec, order }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.order - b.order)
      .map(({ spec }) => spec);
  }
}

/** Which lane scripts/test.mjs runs: FASHION_HOW_TEST_LANE=quick for test:quick, else npm test's two projects. */
const quickLane = process.env.FASHION_HOW_TEST_LANE === 'quick';

export default defineConfig({
  // graphql has no "exports": Node loads its CommonJS index.js for dependencies (Apollo, graphql-tools,
  // graphql-ws) while Vite would give the project's own files index.mjs, and a schema from one copy is
  // refused by the other ("from another module or realm"). One copy, as under Node.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // expect.poll's 1 s default is one query and one render on an idle machine; with three files on two
    // cores a page's first answer can take longer, and a poll that gave up there failed a CI run. Polls
    // still end as soon as their assertion holds.
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    // Three test files at a time on two cores: most suites spend much of their time waiting on a child
    // process (the Python worker, a CLI, a server, the database), so a third file fills those waits.
    maxWorkers: 3,
    minWorkers: 1,
    globalSetup: ['test/globalSetup.ts'],
    sequence: { sequencer: LongestFirst },
    projects: quickLane
      ? [{ extends: true, test: { name: 'quick', include: QUICK } }]
      : [
          { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: POSTGRESQL_ONLY } },
          {
            extends: true,
            test: {
              name: 'postgresql',
              include: ['test/**/*.test.ts'],
              exclude: [...WITHOUT_DATABASE, ...ONE_DATABASE, 'test/cluster.test.ts'],
              env: { FASHION_HOW_TEST_POSTGRESQL_URL: postgresqlServer },
            },
          },
        ],
  },
});
