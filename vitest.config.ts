import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The guest is slow (software emulation): allow it more time.
    ...(process.env.SCIF_GUEST ? { testTimeout: 600_000, hookTimeout: 600_000 } : {}),
  },
});
