import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Acceptance tests start real registries and share a fixture cache on disk.
    fileParallelism: false,
    // Anything a test starts gets a pull cache of its own, never the user's.
    env: { XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'imagemounter-test-cache-')) },
  },
});
