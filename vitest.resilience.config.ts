import { defineConfig } from 'vitest/config';

/**
 * `npm run test:resilience`: the load and fault-injection suites (test/resilience). They hold a stack
 * under load or wait out outages, so they run apart from `npm test`, one file at a time: two of them
 * at once on a small machine would measure each other rather than the system.
 */
export default defineConfig({
  test: {
    include: ['test/resilience/**/*.test.ts'],
    exclude: ['node_modules/**'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
