// Layer tar parsing on top of tar-stream: turns its headers into plain entries (PAX
// attributes applied, nanosecond times kept, xattrs as bytes) and feeds it with
// backpressure. No tree logic here.

import { extract } from 'tar-stream';
import type { Logger } from '../../oci/types.js';
import { ImageError } from '../../oci/errors.js';
import { keepRawPax, RAW_PAX, type TarStreamHeader as RawHeader } from './pax.js';

export interface Timespec {
  sec: number;
  nsec: number;
}

export type TarEntryType = 'reg' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** The name as stored (PAX `path` / GNU long name applied), not yet normalised. */
  name: string;
  type: TarEntryType;
  /** Permission bits only (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length for 'reg'; other types carry no content. */
  size: number;
  mtime: Timespec;
  atime?: Timespec;
  ctime?: Timespec;
  /** Symlink target or hard-link target (PAX `linkpath` / GNU long link applied). */
  linkname?: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Uint8Array>;
}

/** Called once per entry; the returned function (if any) receives the entry's content in order. */
export type TarVisitor = (entry: TarEntry) => ((chunk: Uint8Array) => void) | void;

export type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;


const TYPES: Record<string, TarEntryType> = {
  file: 'reg',
  'contiguous-file': 'reg',
  directory: 'dir',
  symlink: 'symlink',
  link: 'link',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/**
 * Parse a tar stream, calling `visit` for every entry in order. Resolves with the number
 * of entries and the number of tar bytes read. A malformed tar rejects with ImageError
 * BAD_TAR; an error of the source itself (network, decompression) is rethrown as is;
 * an error thrown by `visit` propagates unchanged.
 */
export async function readTar(
  source: ByteSource,
  visit: TarVisitor,
  opts: { name?: string; logger?: Logger } = {},
): Promise<{ entries: number; bytes: number }> {
  const layer = opts.name ?? 'layer';
  // Old v7 tars have no ustar magic; the header checksum still guards against garbage.
  // (tar-stream's own typings omit its extract options.)
  const ex = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
  keepRawPax(ex);
  const feed = new Feeder(source, ex);
  const fed = feed.run();
  let entries = 0;
  try {
    for await (const stream of ex) {
      entries++;
      const entry = toEntry(stream.header as RawHeader, layer, opts.logger);
      const sink = visit(entry);
      // Every entry stream must be drained or tar-stream stops delivering data.
      for await (const chunk of stream) if (sink) sink(chunk as Uint8Array);
    }
    await fed;
  } catch (err) {
    ex.destroy();
    feed.abort();
    if (feed.error !== undefined) throw feed.error;
    if (err instanceof ImageError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ImageError('BAD_TAR', `${layer} is not a valid tar: ${why}`, { cause: err });
  }
  if (feed.error !== undefined) throw feed.error;
  return { entries, bytes: feed.bytes };
}

/** Writes the source into tar-stream chunk by chunk, waiting whenever it asks to. */
class Feeder {
  error: unknown;
  bytes = 0;
  private aborted = false;
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private iterator?: AsyncIterator<Uint8Array>;

  constructor(
    private readonly source: ByteSource,
    private readonly ex: ReturnType<typeof extract>,
  ) {}

  async run(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.next();
        if (chunk === undefined || this.aborted) break;
        if (chunk.byteLength === 0) continue;
        this.bytes += chunk.byteLength;
        if (!this.ex.write(chunk)) await this.drained();
      }
      if (!this.aborted) this.ex.end(undefined); // (its typings demand an argument)
    } catch (err) {
      if (this.aborted) return;
      this.error = err;
      this.ex.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.release();
    }
  }

  /** Stop reading; a read in flight on a ReadableStream is cancelled, not awaited. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reader?.cancel().catch(() => {});
  }

  private async next(): Promise<Uint8Array | undefined> {
    if (isReadableStream(this.source)) {
      this.reader ??= this.source.getReader();
      const r = await this.reader.read();
      return r.done ? undefined : r.value;
    }
    this.iterator ??= this.source[Symbol.asyncIterator]();
    const r = await this.iterator.next();
    return r.done ? undefined : r.value;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.ex.off('drain', done);
        this.ex.off('close', done);
        resolve();
      };
      this.ex.on('drain', done);
      this.ex.on('close', done);
    });
  }

  private release(): void {
    if (this.aborted) {
      void this.iterator?.return?.()?.catch?.(() => {});
    }
    try {
      this.reader?.releaseLock();
    } catch {
      // a cancelled reader may still have a read pending; the lock then stays, harmlessly
    }
  }
}

function isReadableStream(s: ByteSource): s is ReadableStream<Uint8Array> {
  return typeof (s as ReadableStream<Uint8Array>).getReader === 'function';
}

function toEntry(h: RawHeader, layer: string, logger?: Logger): TarEntry {
  const type = h.type ? TYPES[h.type] : undefined;
  if (!type) {
    throw new ImageError('BAD_TAR', `${layer}: entry ${JSON.stringify(h.name)} has unsupported tar type ${h.type ?? 'unknown'}`);
  }
  const pax = h.pax ?? {};
  const mtime = (pax.mtime !== undefined ? parseTime(pax.mtime) : undefined) ?? fromDate(h.mtime);
  const entry: TarEntry = {
    name: h.name,
    type,
    mode: (h.mode ?? 0) & 0o7777,
    // tar-stream applies PAX path/linkpath/size itself, but not uid/gid (needed above 2^21).
    uid: paxInt(pax.uid) ?? h.uid ?? 0,
    gid: paxInt(pax.gid) ?? h.gid ?? 0,
    size: type === 'reg' ? (h.size ?? 0) : 0,
    mtime,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    xattrs: new Map(),
  };
  const atime = pax.atime !== undefined ? parseTime(pax.atime) : undefined;
  const ctime = pax.ctime !== undefined ? parseTime(pax.ctime) : undefined;
  if (atime) entry.atime = atime;
  if (ctime) entry.ctime = ctime;
  if (h.linkname) entry.linkname = h.linkname;
  const raw = pax[RAW_PAX];
  for (const key in pax) readXattr(entry, key, pax[key]!, raw?.get(key), layer, logger);
  return entry;
}

const utf8 = new TextEncoder();

function readXattr(entry: TarEntry, key: string, value: string, raw: Uint8Array | undefined, layer: string, logger?: Logger): void {
  if (key.startsWith('SCHILY.xattr.')) {
    const name = key.slice('SCHILY.xattr.'.length);
    // The raw bytes (pax.ts), not tar-stream's UTF-8 string: xattr values are binary.
    entry.xattrs.set(name, raw ?? utf8.encode(value));
  } else if (key.startsWith('LIBARCHIVE.xattr.')) {
    // libarchive's form: URL-encoded name, base64 value — binary-safe.
    try {
      const name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
      const bin = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      entry.xattrs.set(name, bytes);
    } catch {
      logger?.warn?.(`${layer}: malformed ${key} record on ${entry.name} ignored`);
    }
  }
}

function paxInt(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** PAX times are decimal seconds with an optional fraction; keep all nine digits. */
export function parseTime(v: string): Timespec | undefined {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(v.trim());
  if (!m) return undefined;
  const sec = Number(m[2]);
  const nsec = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (m[1] !== '-') return { sec, nsec };
  return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1e9 - nsec };
}

function fromDate(d: Date | undefined): Timespec {
  const ms = d ? d.getTime() : 0;
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1e6 };
}
