import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql has no "exports": Node loads its CommonJS index.js for dependencies (Apollo, graphql-tools,
  // graphql-ws) while Vite would give the project's own files index.mjs, and a schema from one copy is
  // refused by the other ("from another module or realm"). One copy, as under Node.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: two test files at a time keeps image decoding and SQLite from starving each other.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
