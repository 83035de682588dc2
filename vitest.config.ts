import { randomBytes } from 'node:crypto';
import { defineConfig } from 'vitest/config';

// The PostgreSQL server the postgresql project makes its databases in (scripts/test.mjs finds one, or
// starts a throwaway one, and says so loudly when it cannot), and this run's mark in their names.
const postgresqlServer = process.env.FASHION_HOW_TEST_POSTGRESQL_SERVER || 'postgresql://postgres@127.0.0.1:5432/test';
process.env.FASHION_HOW_TEST_RUN ??= randomBytes(3).toString('hex');

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
  'test/reports/drift.test.ts',
  'test/inference/batcher.test.ts',
  'test/inference/onnxThread.test.ts',
  'test/inference/ensembleFit.test.ts',
  'test/training/worker.test.ts',
  'test/training/preprocessParity.test.ts',
  'test/storage/artifactStore.test.ts',
];

/** Tests that open a database but test nothing that differs between the two: serving, fairness, the
 *  dashboard, the SDK, ensemble fitting's search and the worker's weights and recipe read and write the same rows
 *  through the same Prisma calls on either. They run on SQLite only. What does differ is tested on both:
 *  migrations, imports' transactions, keyset pagination, the job queue and its workers, heartbeats and
 *  recovery, LISTEN/NOTIFY subscriptions and replicas, reports' bulk writes, distillation through the
 *  queue, the CLI (on PostgreSQL its train command works the job queue), and faults under concurrent writers. */
const ONE_DATABASE = [
  'test/web/dashboard.test.ts',
  'test/inference/serving.test.ts',
  'test/inference/fairness.test.ts',
  'test/inference/fitEnsemble.test.ts',
  'test/sdk/sdk.test.ts',
  'test/sdk/live.test.ts',
  'test/training/weights.test.ts',
  'test/training/recipe.test.ts',
  'test/data/upload.test.ts',
];

export default defineConfig({
  // graphql has no "exports": Node loads its CommonJS index.js for dependencies (Apollo, graphql-tools,
  // graphql-ws) while Vite would give the project's own files index.mjs, and a schema from one copy is
  // refused by the other ("from another module or realm"). One copy, as under Node.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Three test files at a time on two cores: most suites spend much of their time waiting on a child
    // process (the Python worker, a CLI, a server, the database), so a third file fills those waits.
    maxWorkers: 3,
    minWorkers: 1,
    globalSetup: ['test/globalSetup.ts'],
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'] } },
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
