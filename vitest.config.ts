import { defineConfig } from 'vitest/config';

export default defineConfig({
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
