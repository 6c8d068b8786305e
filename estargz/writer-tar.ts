// The eStargz writer's tar side: reads a layer tar into plain entries (tar-stream, with the
// repo's raw-PAX hook so xattr values stay bytes) and encodes ustar/PAX headers
// synchronously, the way Go's archive/tar rewrites them in estargz's AppendTar.
import { extract } from 'tar-stream';
import { concatBytes, ImageError } from '../oci/index.js';
import { keepRawPax, RAW_PAX, type TarStreamHeader as RawHeader } from '../src/fs/pax.js';

export type WEntryType = 'reg' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One input entry, with what the TOC and the rewritten header need. */
export interface WEntry {
  name: string;
  type: WEntryType;
  /** The header's mode field as stored (Go keeps it as is). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** xattr name → raw value, from PAX `SCHILY.xattr.*`. */
  xattrs: Map<string, Uint8Array>;
}

const TYPES: Record<string, WEntryType> = {
  file: 'reg',
  'contiguous-file': 'reg',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};


const XATTR = 'SCHILY.xattr.';
const text = new TextDecoder();
const utf8 = new TextEncoder();

function toEntry(h: RawHeader): WEntry {
  const type = TYPES[h.type ?? 'file'];
  if (!type) throw new ImageError('BAD_TAR', `tar entry "${h.name}": unsupported type ${h.type}`);
  const raw = h.pax?.[RAW_PAX];
  const xattrs = new Map<string, Uint8Array>();
  for (const [k, v] of raw ?? []) if (k.startsWith(XATTR)) xattrs.set(k.slice(XATTR.length), v);
  let mtimeSec = Math.floor((h.mtime?.getTime() ?? 0) / 1000);
  let mtimeNsec = 0;
  const paxMtime = raw?.get('mtime');
  if (paxMtime) {
    const m = /^(-?)(\d+)(?:\.(\d{1,9})\d*)?$/.exec(text.decode(paxMtime));
    if (m) {
      const sec = Number(m[2]);
      const frac = Number((m[3] ?? '').padEnd(9, '0'));
      [mtimeSec, mtimeNsec] = m[1] ? (frac ? [-sec - 1, 1e9 - frac] : [-sec, 0]) : [sec, frac];
    }
  }
  return {
    name: h.name,
    type,
    mode: h.mode ?? 0,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    uname: h.uname ?? '',
    gname: h.gname ?? '',
    size: type === 'reg' ? (h.size ?? 0) : 0,
    mtimeSec,
    mtimeNsec,
    linkname: h.linkname ?? '',
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    xattrs,
  };
}

/** Every entry of a tar, in order, each with an async iterable of its content (drain it before the next). */
export async function* readEntries(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<{ entry: WEntry; data: AsyncIterable<Uint8Array> }> {
  const ex = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
  keepRawPax(ex);
  let feedError: unknown;
  let stop = false;
  const feed = (async () => {
    try {
      const iterable = 'getReader' in source ? streamIterable(source) : source;
      for await (const chunk of iterable) {
        if (stop) return;
        if (chunk.byteLength && !ex.write(chunk)) await new Promise<void>((r) => ex.once('drain', () => r()));
      }
      ex.end(undefined);
    } catch (e) {
      feedError = e;
      ex.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  })();
  try {
    for await (const stream of ex) {
      yield { entry: toEntry(stream.header as RawHeader), data: stream as AsyncIterable<Uint8Array> };
      for await (const _ of stream) void _; // drain what the consumer left
    }
    await feed;
  } catch (e) {
    if (feedError !== undefined) throw feedError;
    if (e instanceof ImageError) throw e;
    throw new ImageError('BAD_TAR', `not a valid tar: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    stop = true;
    ex.destroy();
  }
  if (feedError !== undefined) throw feedError;
}

async function* streamIterable(s: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = s.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

const TYPEFLAG: Record<WEntryType, string> = { reg: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** The header block(s) of `e`: a PAX header first when a value does not fit ustar. */
export function encodeHeader(e: WEntry): Uint8Array {
  const pax: [string, Uint8Array][] = [];
  const str = (key: string, v: string, max: number) => {
    const b = utf8.encode(v);
    if (b.length > max || /[^\x01-\x7f]/.test(v)) pax.push([key, b]);
  };
  str('path', e.name, 100);
  str('linkpath', e.linkname, 100);
  str('uname', e.uname, 32);
  str('gname', e.gname, 32);
  const num = (key: string, v: number, digits: number) => {
    if (v < 0 || v >= 8 ** digits) pax.push([key, utf8.encode(String(v))]);
  };
  num('uid', e.uid, 7);
  num('gid', e.gid, 7);
  num('size', e.size, 11);
  if (e.mtimeNsec || e.mtimeSec < 0 || e.mtimeSec >= 8 ** 11) {
    pax.push(['mtime', utf8.encode(formatPaxTime(e.mtimeSec, e.mtimeNsec))]);
  }
  for (const [k, v] of [...e.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) pax.push([XATTR + k, v]);
  const main = ustar(e, TYPEFLAG[e.type]);
  if (!pax.length) return main;
  const body = concatBytes(pax.map(([k, v]) => paxRecord(k, v)));
  const dir = e.name.replace(/\/+$/, '').split('/');
  const base = dir.pop() ?? '';
  const paxName = [...dir, 'PaxHeaders.0', base].filter(Boolean).join('/').slice(0, 100);
  const head = ustar({ ...e, name: paxName, linkname: '', size: body.length, uname: '', gname: '', uid: 0, gid: 0, mtimeSec: 0, mode: 0o644 }, 'x');
  return concatBytes([head, body, new Uint8Array(padding(body.length)), main]);
}

/** A ustar header for a plain regular file (the TOC entry: mode 0, no owner, mtime 0). */
export function plainFileHeader(name: string, size: number): Uint8Array {
  return encodeHeader({ name, type: 'reg', mode: 0, uid: 0, gid: 0, uname: '', gname: '', size, mtimeSec: 0, mtimeNsec: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() });
}

export function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}

function ustar(e: WEntry, flag: string): Uint8Array {
  const b = new Uint8Array(512);
  const put = (s: string | Uint8Array, off: number, len: number) => b.set((typeof s === 'string' ? utf8.encode(s) : s).subarray(0, len), off);
  const oct = (v: number, off: number, len: number) => {
    const fits = v >= 0 && v < 8 ** (len - 1);
    put((fits ? v : 0).toString(8).padStart(len - 1, '0'), off, len - 1);
  };
  put(e.name, 0, 100);
  oct(e.mode, 100, 8);
  oct(e.uid, 108, 8);
  oct(e.gid, 116, 8);
  oct(e.size, 124, 12);
  oct(e.mtimeSec, 136, 12);
  b.fill(0x20, 148, 156);
  put(flag, 156, 1);
  put(e.linkname, 157, 100);
  put('ustar\x0000', 257, 8);
  put(e.uname, 265, 32);
  put(e.gname, 297, 32);
  if (e.type === 'char' || e.type === 'block') {
    oct(e.devmajor, 329, 8);
    oct(e.devminor, 337, 8);
  }
  let sum = 0;
  for (const x of b) sum += x;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return b;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const rest = utf8.encode(` ${key}=`).length + value.length + 1;
  let len = rest + String(rest).length;
  if (String(len).length !== String(len - rest).length) len = rest + String(len).length;
  return concatBytes([utf8.encode(`${len} ${key}=`), value, utf8.encode('\n')]);
}

function formatPaxTime(sec: number, nsec: number): string {
  if (!nsec) return String(sec);
  if (sec < 0) return `-${-sec - 1}.${String(1e9 - nsec).padStart(9, '0')}`.replace(/0+$/, '');
  return `${sec}.${String(nsec).padStart(9, '0')}`.replace(/0+$/, '');
}

