// The 9P benchmark's image (cached under .cache/bench/p9): one gzip layer holding a
// 64 MiB PRNG file for sequential reads and a few thousand small files in a two-level
// tree for the metadata walk. Built with the fixture generator's helpers, so it is
// deterministic; gzip because Debian's umoci (diod's copy) cannot read zstd.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageConfig, LayoutWriter } from '../fixtures/layout.js';
import { prngBytes } from '../fixtures/prng.js';
import { buildLayer, type TarEntry } from '../fixtures/tar.js';

export const BIG_PATH = 'data/big.bin';
export const BIG_SIZE = 64 * 2 ** 20;
const DIRS = 40;
const FILES_PER_DIR = 100;
const TAG = 'latest';
// Bump when the content changes: the cache is keyed by it.
const VERSION = 'p9-bench-v1';

export interface P9BenchImage {
  dir: string;
  tag: string;
  entries: number;
}

export async function makeP9BenchImage(cacheDir: string): Promise<P9BenchImage> {
  const stamp = join(cacheDir, 'image.json');
  if (existsSync(stamp)) {
    const saved = JSON.parse(readFileSync(stamp, 'utf8')) as P9BenchImage & { version: string };
    if (saved.version === VERSION) return saved;
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const entries: TarEntry[] = [
    { name: 'data', type: 'directory' },
    { name: BIG_PATH, data: prngBytes(0xb16, BIG_SIZE) },
    { name: 'tree', type: 'directory' },
  ];
  for (let d = 0; d < DIRS; d++) {
    entries.push({ name: `tree/d${d}`, type: 'directory' });
    for (let f = 0; f < FILES_PER_DIR; f++) entries.push({ name: `tree/d${d}/f${f}`, data: `file ${d}/${f}\n`.repeat(1 + (f % 20)) });
  }
  const w = new LayoutWriter(cacheDir);
  const img = w.image(imageConfig('amd64', { config: { Cmd: ['/bin/sh'] } }), [await buildLayer(entries, 'gzip')]);
  w.writeIndex(img.manifest, TAG);
  const out: P9BenchImage = { dir: cacheDir, tag: TAG, entries: entries.length };
  writeFileSync(stamp, JSON.stringify({ ...out, version: VERSION }));
  return out;
}
