import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure logic beside the code, no infrastructure) and `integration`
 * (test/, against the real Docker engine and Redis that scripts/test.sh brings up; its global
 * setup starts a runner and the API and fails the run if either is missing).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['core/**/*.test.ts', 'api/**/*.test.ts', 'runner/**/*.test.ts', 'cli/**/*.test.ts', 'sdk/**/*.test.ts', 'images/**/*.test.ts', 'scripts/**/*.test.ts', 'mcp/**/*.test.ts', 'deploy/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
    maxWorkers: 2,
    // The integration teardown stops the runner and removes what its test node left on the host.
    teardownTimeout: 120_000,
  },
});
