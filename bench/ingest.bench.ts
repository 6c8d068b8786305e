// Ingest of a large gzip layer into the merged tree (digest check, gunzip, tar parse,
// content store), against native `gzip -dc | tar -t` on the same blob in the same run.
// Each side runs in its own child process so peak RSS belongs to the ingest alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeBenchLayout } from './layer-data.js';

const RUNS = 3;
const root = fileURLToPath(new URL('../', import.meta.url));
const layout = await makeBenchLayout(`${root}.cache/bench/ingest`);

function best<T extends { seconds: number }>(runs: T[]): T {
  return runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

const native = best(
  Array.from({ length: RUNS }, () => {
    const start = process.hrtime.bigint();
    execFileSync('bash', ['-c', `gzip -dc '${layout.blobPath}' | tar -t > /dev/null`]);
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  }),
);

const ours = best(
  Array.from({ length: RUNS }, () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/ingest-run.ts', layout.dir], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`ingest run failed: ${child.stderr}`);
    return JSON.parse(child.stdout) as { seconds: number; maxRssMiB: number; entries: number };
  }),
);

const mb = layout.tarBytes / 1e6;
console.log(`ingest: ${(layout.tarBytes / 2 ** 20).toFixed(0)} MiB tar (${(layout.blobBytes / 2 ** 20).toFixed(0)} MiB gzip), ${ours.entries} entries`);
console.log(`  imagemounter: ${(mb / ours.seconds).toFixed(0)} MB/s (${ours.seconds.toFixed(2)} s), peak RSS ${ours.maxRssMiB.toFixed(0)} MiB`);
console.log(`  gzip -dc | tar -t: ${(mb / native.seconds).toFixed(0)} MB/s (${native.seconds.toFixed(2)} s)`);
console.log(`  ratio (native time / ours): ${(native.seconds / ours.seconds).toFixed(2)} (target >= 0.8)`);
if (!existsSync(layout.blobPath)) process.exitCode = 1;
