// The v86 benchmark's image (linux/386): the 386 run fixture's busybox userland, a
// 10 MiB file of random bytes and a tree of a few thousand small files and directories.
// The entry list is returned as well, so the same tree can be unpacked into v86's own 9P
// filesystem for the reference. Deterministic: seeded PRNG, fixed mtimes.
import { imageConfig, LayoutWriter } from '../fixtures/layout.js';
import { prngBytes } from '../fixtures/prng.js';
import { buildLayer, type TarEntry } from '../fixtures/tar.js';

export const BIG_FILE = 'data/big.bin';
export const BIG_BYTES = 10 << 20;
const DIRS = 40;
const FILES_PER_DIR = 60;

export interface V86BenchImage {
  dir: string;
  tag: string;
  /** The layer's entries (one layer: the merged tree is exactly these). */
  entries: TarEntry[];
}

export async function makeV86BenchImage(dir: string, busybox: Uint8Array): Promise<V86BenchImage> {
  const entries: TarEntry[] = [
    { name: 'bin', type: 'directory' },
    { name: 'bin/busybox', mode: 0o755, data: busybox },
    ...['sh', 'cat', 'find', 'wc', 'ls'].map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc', type: 'directory' },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'data', type: 'directory' },
    { name: BIG_FILE, data: prngBytes(0x86, BIG_BYTES) },
    { name: 'tree', type: 'directory' },
  ];
  const small = prngBytes(0x87, 4096);
  for (let d = 0; d < DIRS; d++) {
    entries.push({ name: `tree/d${d}`, type: 'directory' });
    for (let f = 0; f < FILES_PER_DIR; f++) {
      const at = (d * 131 + f * 17) % 3000;
      entries.push({ name: `tree/d${d}/f${f}.txt`, data: small.subarray(at, at + ((d + f) % 1000)) });
    }
  }
  const layer = await buildLayer(entries, 'gzip');
  const w = new LayoutWriter(dir);
  const img = w.image(imageConfig('386', { config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] } }), [layer]);
  w.writeIndex(img.manifest, 'latest');
  return { dir, tag: 'latest', entries };
}
