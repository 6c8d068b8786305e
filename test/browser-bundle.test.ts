// The library entry must bundle for a browser worker: no node:* imports reachable from
// src/index.ts, and every dependency resolvable by a bundler with browser conditions.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('browser bundle', () => {
  it('bundles src/index.ts for the browser without Node built-ins', async () => {
    const result = await build({
      entryPoints: ['src/index.ts'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => p.startsWith('node:') || p.includes('src/node/') || p.includes('src/cli/'))).toEqual([]);
    expect(inputs.some((p) => p.startsWith('oci/'))).toBe(true);
    expect(result.outputFiles[0]!.text).not.toMatch(/from\s*["']node:/);
  });
});
