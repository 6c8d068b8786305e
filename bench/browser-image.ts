// The browser benchmark's image (cached under .cache/bench/browser): four gzip layers,
// about 50 MiB compressed, shaped like a Debian-based application image — an OS layer
// (configs, binaries, shared libraries with version symlinks, docs, dpkg lists), a
// language runtime (thousands of small source files, bytecode, extension modules), a
// node_modules-like dependency layer and a small app layer with a whiteout. Contents are
// text, machine-code-like bytes (about 2:1 under gzip) and already-compressed bytes, in
// the proportions real images have. Deterministic: seeded PRNG, fixed mtimes.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageConfig, LayoutWriter } from '../fixtures/layout.js';
import { prngBytes } from '../fixtures/prng.js';
import { buildLayer, type Layer, type TarEntry } from '../fixtures/tar.js';

const TAG = 'latest';
// Bump when the content changes: the cache is keyed by it.
const VERSION = 'browser-bench-v1';

export interface BrowserBenchImage {
  dir: string;
  tag: string;
  /** Compressed size and digest of each layer, in pull order. */
  layers: { digest: string; size: number }[];
  /** Sum of the layers' compressed sizes. */
  blobBytes: number;
  /** Entries in all layers' tars (before merging). */
  entries: number;
}

export async function makeBrowserBenchImage(cacheDir: string): Promise<BrowserBenchImage> {
  const stamp = join(cacheDir, 'image.json');
  if (existsSync(stamp)) {
    const saved = JSON.parse(readFileSync(stamp, 'utf8')) as BrowserBenchImage & { version: string };
    if (saved.version === VERSION) return saved;
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const c = new Content(0xb40);
  const lists = [osLayer(c), runtimeLayer(c), depsLayer(c), appLayer(c)];
  const layers: Layer[] = [];
  // One at a time: each tar is tens of MiB and only its blob is kept.
  for (const entries of lists) {
    const l = await buildLayer(entries, 'gzip');
    layers.push({ ...l, tar: new Uint8Array(0) });
  }
  const w = new LayoutWriter(cacheDir);
  const img = w.image(imageConfig('amd64', { config: { Cmd: ['/app/bin/server'], WorkingDir: '/app', Env: ['PATH=/usr/local/bin:/usr/bin:/bin'] } }), layers);
  w.writeIndex(img.manifest, TAG);
  const out: BrowserBenchImage = {
    dir: cacheDir,
    tag: TAG,
    layers: img.layers.map((d) => ({ digest: d.digest, size: d.size })),
    blobBytes: img.layers.reduce((n, d) => n + d.size, 0),
    entries: lists.reduce((n, l) => n + l.length, 0),
  };
  writeFileSync(stamp, JSON.stringify({ ...out, version: VERSION }));
  return out;
}

/** File bodies are views into three corpora, sliced at random offsets (no per-file generation). */
class Content {
  readonly random: () => number;
  private readonly text: Uint8Array;
  private readonly code: Uint8Array;
  private readonly packed: Uint8Array;

  constructor(seed: number) {
    this.random = mulberry32(seed);
    this.text = textCorpus(this.random, 6 << 20);
    this.code = codeCorpus(this.random, seed, 8 << 20);
    this.packed = prngBytes(seed, 6 << 20);
  }

  /** A size between min and max, log-uniform: many small files, a long tail of big ones. */
  size(min: number, max: number): number {
    return Math.floor(min * (max / min) ** this.random());
  }

  bytes(kind: 'text' | 'code' | 'packed', size: number): Uint8Array {
    const corpus = kind === 'text' ? this.text : kind === 'code' ? this.code : this.packed;
    const n = Math.min(size, corpus.length);
    const start = Math.floor(this.random() * (corpus.length - n));
    return corpus.subarray(start, start + n);
  }

  file(name: string, kind: 'text' | 'code' | 'packed', min: number, max: number, mode = 0o644): TarEntry {
    return { name, mode, data: this.bytes(kind, this.size(min, max)) };
  }
}

const dir = (name: string): TarEntry => ({ name, type: 'directory' });
const link = (name: string, target: string): TarEntry => ({ name, type: 'symlink', linkname: target });

function osLayer(c: Content): TarEntry[] {
  const e: TarEntry[] = [];
  for (const d of ['bin', 'etc', 'etc/default', 'etc/ssl', 'etc/ssl/certs', 'lib', 'root', 'tmp', 'usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib/x86_64-linux-gnu', 'usr/share', 'usr/share/doc', 'usr/share/locale', 'var', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info']) e.push(dir(d));
  for (let i = 0; i < 180; i++) e.push(c.file(`etc/${i % 3 === 0 ? 'default/' : ''}conf${i}`, 'text', 60, 6000));
  e.push({ name: 'etc/motd', data: 'The programs included with this system are free software.\n' });
  for (let i = 0; i < 140; i++) e.push(c.file(`etc/ssl/certs/ca-${i}.pem`, 'text', 1200, 2400));
  for (let i = 0; i < 180; i++) e.push(c.file(`usr/bin/tool${i}`, 'code', 8 << 10, 300 << 10, 0o755));
  for (let i = 0; i < 40; i++) e.push(link(`bin/alias${i}`, `../usr/bin/tool${i * 5}`));
  for (let i = 0; i < 30; i++) e.push(c.file(`usr/sbin/daemon${i}`, 'code', 20 << 10, 300 << 10, 0o755));
  for (let i = 0; i < 120; i++) {
    const lib = `usr/lib/x86_64-linux-gnu/libpkg${i}.so`;
    e.push(c.file(`${lib}.${i % 7}.${i % 3}.0`, 'code', 12 << 10, 600 << 10));
    e.push(link(`${lib}.${i % 7}`, `libpkg${i}.so.${i % 7}.${i % 3}.0`));
  }
  for (let i = 0; i < 380; i++) {
    e.push(dir(`usr/share/doc/pkg${i}`));
    e.push(c.file(`usr/share/doc/pkg${i}/copyright`, 'text', 500, 30 << 10));
    e.push(c.file(`usr/share/doc/pkg${i}/changelog.Debian.gz`, 'packed', 300, 40 << 10));
    e.push(c.file(`var/lib/dpkg/info/pkg${i}.list`, 'text', 100, 12 << 10));
    e.push(c.file(`var/lib/dpkg/info/pkg${i}.md5sums`, 'text', 100, 8 << 10));
  }
  for (let i = 0; i < 60; i++) {
    e.push(dir(`usr/share/locale/l${i}`));
    for (let j = 0; j < 4; j++) e.push(c.file(`usr/share/locale/l${i}/domain${j}.mo`, 'code', 2 << 10, 60 << 10));
  }
  return e;
}

function runtimeLayer(c: Content): TarEntry[] {
  const root = 'usr/lib/python3.11';
  const e: TarEntry[] = [dir('usr/local'), dir('usr/local/bin'), dir(root), dir(`${root}/lib-dynload`)];
  e.push(c.file('usr/local/bin/python3.11', 'code', 4 << 20, 4608 << 10, 0o755), link('usr/local/bin/python3', 'python3.11'));
  for (let p = 0; p < 60; p++) {
    const pkg = `${root}/pkg${p}`;
    e.push(dir(pkg), dir(`${pkg}/__pycache__`));
    for (let f = 0; f < 20; f++) {
      e.push(c.file(`${pkg}/mod${f}.py`, 'text', 200, 30 << 10));
      e.push(c.file(`${pkg}/__pycache__/mod${f}.cpython-311.pyc`, 'code', 200, 20 << 10));
    }
  }
  for (let i = 0; i < 40; i++) e.push(c.file(`${root}/lib-dynload/ext${i}.cpython-311-x86_64-linux-gnu.so`, 'code', 16 << 10, 800 << 10));
  return e;
}

function depsLayer(c: Content): TarEntry[] {
  const e: TarEntry[] = [dir('app'), dir('app/node_modules')];
  for (let p = 0; p < 240; p++) {
    const pkg = `app/node_modules/dep${p}`;
    e.push(dir(pkg), dir(`${pkg}/lib`));
    e.push(c.file(`${pkg}/package.json`, 'text', 400, 3000), c.file(`${pkg}/README.md`, 'text', 500, 20 << 10), c.file(`${pkg}/LICENSE`, 'text', 1000, 1200));
    const files = 3 + Math.floor(c.random() * 13);
    for (let f = 0; f < files; f++) e.push(c.file(`${pkg}/lib/m${f}.js`, 'text', 150, 25 << 10));
    if (p % 10 === 0) e.push(c.file(`${pkg}/dist.min.js`, 'text', 40 << 10, 500 << 10), c.file(`${pkg}/logo.png`, 'packed', 4 << 10, 200 << 10));
    if (p % 24 === 0) e.push(c.file(`${pkg}/binding.node`, 'code', 150 << 10, 1536 << 10));
  }
  return e;
}

function appLayer(c: Content): TarEntry[] {
  const e: TarEntry[] = [dir('app/bin'), dir('app/src'), dir('app/public'), dir('etc'), { name: 'etc/.wh.motd', data: '' }];
  e.push(c.file('app/bin/server', 'code', 900 << 10, 1 << 20, 0o755));
  for (let i = 0; i < 60; i++) e.push(c.file(`app/src/f${i}.js`, 'text', 300, 30 << 10));
  for (let i = 0; i < 20; i++) e.push(c.file(`app/public/asset${i}.webp`, 'packed', 10 << 10, 300 << 10));
  e.push({ name: 'etc/app.conf', data: 'listen = 0.0.0.0:8080\nworkers = 4\n' });
  return e;
}

function textCorpus(random: () => number, bytes: number): Uint8Array {
  const words = Array.from({ length: 4096 }, () =>
    Array.from({ length: 2 + Math.floor(random() * 9) }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join(''),
  );
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    // Zipf-like word choice, as in prose and code: a few words are very common.
    const word = words[Math.floor(words.length * random() ** 3)]! + (random() < 0.12 ? '\n' : random() < 0.1 ? '(' : ' ');
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** Runs of random bytes interleaved with copies of recent bytes: roughly 2:1 under gzip, like x86 code. */
function codeCorpus(random: () => number, seed: number, bytes: number): Uint8Array {
  const noise = prngBytes(seed ^ 0xc0de, bytes);
  const out = new Uint8Array(bytes);
  let at = 0;
  while (at < bytes) {
    const lit = Math.min(8 + Math.floor(random() * 40), bytes - at);
    out.set(noise.subarray(at, at + lit), at);
    at += lit;
    const copy = Math.min(8 + Math.floor(random() * 48), bytes - at);
    const from = Math.max(0, at - 1 - Math.floor(random() * 4096));
    if (from + copy <= at) out.copyWithin(at, from, from + copy);
    at += copy;
  }
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
