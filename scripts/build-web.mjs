// Bundles the hosted page (src/web/page.ts) and its workers for the browser into
// dist/web/, with index.html and style.css beside them. `node scripts/build-web.mjs`
// or `buildWeb({ outdir })` from a script or test.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../', import.meta.url));

export async function buildWeb({ outdir = join(repo, 'dist/web') } = {}) {
  outdir = resolve(outdir);
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: {
      page: join(repo, 'src/web/page.ts'),
      'mount-worker': join(repo, 'src/web/mount-worker.ts'),
      'c2w-vm-worker': join(repo, 'src/web/c2w-vm-worker.ts'),
      'v86-worker': join(repo, 'src/web/v86-worker.ts'),
    },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    // libv86 reaches for these only when it runs under Node (loading files by path).
    external: ['fs', 'node:fs/promises', 'crypto', 'node:crypto', 'perf_hooks'],
    logLevel: 'warning',
  });
  // The stack worker for pages using the c2w API (createContainerWASI): one classic-script
  // file, since c2w's own runcontainer.js starts it as a classic worker.
  await build({
    entryPoints: { 'stack-worker': join(repo, 'src/web/stack-worker.ts') },
    outdir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(repo, 'src/web', f), join(outdir, f));
  copyFileSync(join(repo, 'node_modules/@xterm/xterm/css/xterm.css'), join(outdir, 'xterm.css'));
  copyFileSync(join(repo, 'node_modules/v86/build/v86.wasm'), join(outdir, 'v86.wasm'));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildWeb();
