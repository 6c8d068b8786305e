// Builds layer tars in memory for the fs tests: tar-stream's pack() for everything it can
// write, hand-made header blocks for what it cannot (GNU long names, raw PAX bytes).
import { pack } from 'tar-stream';
import { Tree } from '../../src/fs/index.js';

export interface E {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'block-device' | 'character-device' | 'fifo';
  content?: string | Uint8Array;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export async function tarOf(entries: E[]): Promise<Uint8Array> {
  const p = pack();
  const out: Uint8Array[] = [];
  const done = (async () => {
    for await (const chunk of p) out.push(chunk as Uint8Array);
  })();
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    const body = typeof e.content === 'string' ? new TextEncoder().encode(e.content) : e.content;
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date(1_600_000_000_000),
        linkname: e.linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        pax: e.pax,
      };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') p.entry(header, body ?? new Uint8Array(0), cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return concat(out);
}

import { concatBytes as concat } from '../../oci/index.js';
export { concat };

/** Yields `bytes` in pieces of `size` (tests odd chunking across header boundaries). */
export async function* chunked(bytes: Uint8Array, size = 4096): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

export function asStream(bytes: Uint8Array, size = 4096): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= bytes.length) return c.close();
      c.enqueue(bytes.slice(i, (i += size)));
    },
  });
}

export async function treeOf(...layers: E[][]): Promise<Tree> {
  const t = new Tree();
  for (const [i, l] of layers.entries()) await t.applyLayer(chunked(await tarOf(l)), { name: `layer${i}` });
  return t;
}

export async function text(t: Tree, path: string): Promise<string> {
  const n = t.lookup(path);
  if (!n) throw new Error(`${path} missing`);
  return new TextDecoder().decode(await t.read(n, 0, n.size));
}

export function names(t: Tree): string[] {
  return [...t.walk()].map(([p]) => p);
}

// ---- raw ustar/GNU blocks ----

const enc = new TextEncoder();

/** One 512-byte header block with a correct checksum. `magic` 'gnu' writes "ustar  \0". */
export function header(f: {
  name: string;
  typeflag: string;
  size?: number;
  mode?: number;
  linkname?: string;
  magic?: 'ustar' | 'gnu';
}): Uint8Array {
  const b = new Uint8Array(512);
  const put = (s: string, at: number) => b.set(enc.encode(s), at);
  const oct = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';
  put(f.name.slice(0, 100), 0);
  put(oct(f.mode ?? 0o644, 8), 100);
  put(oct(0, 8), 108);
  put(oct(0, 8), 116);
  put(oct(f.size ?? 0, 12), 124);
  put(oct(1_600_000_000, 12), 136);
  put(f.typeflag, 156);
  if (f.linkname) put(f.linkname.slice(0, 100), 157);
  put(f.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257);
  put('        ', 148); // checksum is computed over spaces in its own field
  const sum = b.reduce((s, x) => s + x, 0);
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return b;
}

/** Data padded to a whole number of blocks. */
export function blocks(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/** A GNU `L`/`K` record followed by nothing: prepend it to the real header. */
export function gnuLong(kind: 'L' | 'K', value: string): Uint8Array {
  const data = enc.encode(value + '\0');
  return concat([header({ name: '././@LongLink', typeflag: kind, size: data.length, magic: 'gnu' }), blocks(data)]);
}

/** A PAX `x` record whose value bytes are given raw (pack() would UTF-8 encode them). */
export function paxRaw(key: string, value: Uint8Array): Uint8Array {
  const body = (n: number) => concat([enc.encode(`${n} ${key}=`), value, enc.encode('\n')]);
  let n = body(0).length;
  while (body(n).length !== n) n = body(n).length;
  const data = body(n);
  return concat([header({ name: 'PaxHeaders/x', typeflag: 'x', size: data.length }), blocks(data)]);
}

export const END = new Uint8Array(1024);
