// Bundles the library (Node and browser builds) and the CLI with esbuild, and emits type
// declarations with tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';

const common = { bundle: true, format: 'esm', sourcemap: true, target: 'es2022', logLevel: 'warning' };

await Promise.all([
  build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js', platform: 'node', packages: 'external' }),
  build({ ...common, entryPoints: ['src/node/index.ts'], outfile: 'dist/node.js', platform: 'node', packages: 'external' }),
  build({ ...common, entryPoints: ['src/vm/index.ts'], outfile: 'dist/vm.js', platform: 'node', packages: 'external' }),
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node', packages: 'external' }),
  // The browser build carries its dependencies so a page or worker can load one file.
  build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/browser/index.js', platform: 'browser' }),
]);
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
await (await import('./build-web.mjs')).buildWeb();
