import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Acceptance tests start real registries and share a fixture cache on disk.
    fileParallelism: false,
  },
});
