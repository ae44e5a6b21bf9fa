import { defineConfig } from 'vitest/config';

/** Unit tests: never loads the crx plugin. E2E tests have their own config (vitest.e2e.config.ts). */
export const unitConfig = defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    include: ['tests/**/*.test.{ts,tsx}'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});

export { unitConfig as default };
