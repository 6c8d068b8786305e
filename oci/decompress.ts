// Layer decompression as streams. gzip uses the platform's DecompressionStream: as is
// where it decodes concatenated members (Node), else restarted at every member's end
// (Chromium, Firefox stop after the first; eStargz layers are thousands of members); pako
// where there is none. zstd uses fzstd (pure JS, no wasm to fetch, works in workers).
// Truncated input is an error, never a silently short tar.
import { Decompress as ZstdDecompress } from 'fzstd';
import pako from 'pako';
import { ImageError, errorMessage } from './errors.js';
import { mapGzipError, memberGzip } from './gzip-members.js';
import type { Compression } from './media-types.js';

/** A gzip decoder such as `new DecompressionStream('gzip')`. */
export type GzipDecoder = ReadableWritablePair<Uint8Array, Uint8Array>;

export interface DecompressOptions {
  /** false forces the pure-JS gzip path (tests; platforms with a broken native one). */
  native?: boolean;
  /** A platform gzip decoder to use instead (Codecs.gunzip). */
  gunzip?: ((stream: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>) | undefined;
  /**
   * Makes a native decoder that stops after one member with an error, restarted at each
   * member (tests inject one; by default DecompressionStream when the platform's stops).
   */
  nativeGzip?: (() => GzipDecoder) | undefined;
}

export function decompressStream(kind: Compression, stream: ReadableStream<Uint8Array>, opts: DecompressOptions = {}): ReadableStream<Uint8Array> {
  if (kind === 'none') return stream;
  if (kind === 'zstd') return zstdStream(stream);
  if (opts.gunzip) return mapStreamErrors(opts.gunzip(stream), mapGzipError);
  if (opts.native === false) return pakoGzip(stream);
  if (opts.nativeGzip) return memberGzip(stream, opts.nativeGzip);
  return lazyStream(async () => {
    const native = await nativeGzipKind();
    if (native === 'members') return nativeGzip(stream);
    if (native === 'first') return memberGzip(stream, () => new DecompressionStream('gzip') as unknown as GzipDecoder);
    return pakoGzip(stream);
  });
}

/** Magic-byte sniffing: what the bytes are, whatever the media type claims. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** A stream whose source is only built when first read (so callers get a stream synchronously). */
export function lazyStream(make: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await make()).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

/** Reads at least `n` bytes (or to the end), returning them and a stream that replays them. */
export async function peek(stream: ReadableStream<Uint8Array>, n: number): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    chunks.push(value);
    have += value.byteLength;
  }
  const head = new Uint8Array(have);
  let off = 0;
  for (const c of chunks) head.set(c, (off += c.byteLength) - c.byteLength);
  const replay = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      if (ended) controller.close();
    },
    async pull(controller) {
      if (ended) return;
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { head, stream: replay };
}

let probe: Promise<'members' | 'first' | 'none'> | undefined;

/**
 * What the platform's DecompressionStream does with two gzip members: decodes both (Node),
 * decodes the first and errors on the rest (Chromium, Firefox), or anything else (none:
 * a decoder that drops the rest silently cannot be restarted, as no error says where).
 */
function nativeGzipKind(): Promise<'members' | 'first' | 'none'> {
  if (typeof globalThis.DecompressionStream !== 'function') return Promise.resolve('none');
  probe ??= (async () => {
    // "a" and "b", stored (uncompressed) deflate blocks.
    const member = (c: number, crc: number[]) => [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 1, 0, 0xfe, 0xff, c, ...crc, 1, 0, 0, 0];
    const a = member(0x61, [0x43, 0xbe, 0xb7, 0xe8]);
    const decode = (bytes: number[]) => new Response(new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('gzip'))).text();
    try {
      return (await decode([...a, ...member(0x62, [0xf9, 0xef, 0xbe, 0x71])])) === 'ab' ? 'members' : 'none';
    } catch {
      return (await decode(a).catch(() => '')) === 'a' ? 'first' : 'none';
    }
  })();
  return probe;
}


function nativeGzip(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return mapStreamErrors(stream.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>), mapGzipError);
}


/** The same bytes, with any error the stream raises passed through `map` first. */
export function mapStreamErrors(stream: ReadableStream<Uint8Array>, map: (e: unknown) => unknown): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        controller.error(map(e));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Drives a push-style decoder from a pull-style stream. */
function pushDecoder(
  stream: ReadableStream<Uint8Array>,
  make: (emit: (chunk: Uint8Array) => void) => { push(chunk: Uint8Array): void; finish(): void },
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  const pending: Uint8Array[] = [];
  const decoder = make((chunk) => pending.push(chunk));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        await fill(controller);
      } catch (e) {
        reader.cancel(e).catch(() => {});
        throw e;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });

  async function fill(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
      while (pending.length === 0) {
        const { done, value } = await reader.read();
        if (done) {
          decoder.finish();
          for (const c of pending.splice(0)) controller.enqueue(c);
          controller.close();
          return;
        }
        decoder.push(value);
      }
      for (const c of pending.splice(0)) controller.enqueue(c);
  }
}

function pakoGzip(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return pushDecoder(stream, (emit) => {
    // `ended` is public in pako but missing from its type definitions.
    let inflate: (pako.Inflate & { ended: boolean }) | undefined;
    let status = 0;
    let between = true; // at a member boundary: the next bytes start a member, or are padding
    let padding = false;
    const start = () => {
      const inf = new pako.Inflate() as pako.Inflate & { ended: boolean };
      inf.onData = (c) => emit(c as Uint8Array);
      inf.onEnd = (s) => void (status = s);
      return inf;
    };
    const fail = () => {
      throw status === -5 ? new ImageError('TRUNCATED', 'gzip layer data is truncated') : new ImageError('BAD_TAR', `gzip layer data is corrupt: ${inflate?.msg || `zlib status ${status}`}`);
    };
    return {
      push(chunk) {
        if (padding || chunk.byteLength === 0) return;
        if (between) {
          // pako restarts on a new member inside one push, but not across pushes.
          if (chunk[0] === 0) {
            padding = true;
            return;
          }
          inflate = start();
          between = false;
        }
        inflate!.push(chunk, false);
        if (inflate!.ended) {
          if (status !== 0) fail();
          between = true;
        }
      },
      finish() {
        if (padding || between) return;
        inflate!.push(new Uint8Array(0), true);
        if (status !== 0 || !inflate!.ended) fail();
      },
    };
  });
}

function zstdStream(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return pushDecoder(stream, (emit) => {
    const d = new ZstdDecompress((chunk) => {
      if (chunk.byteLength) emit(chunk);
    });
    const wrap = (f: () => void) => {
      try {
        f();
      } catch (e) {
        if (e instanceof ImageError) throw e;
        const code = (e as { code?: unknown }).code;
        throw code === 5
          ? new ImageError('TRUNCATED', 'zstd layer data is truncated', { cause: e })
          : new ImageError('BAD_TAR', `zstd layer data is corrupt: ${errorMessage(e)}`, { cause: e });
      }
    };
    return {
      push: (chunk) => wrap(() => d.push(chunk, false)),
      finish: () => wrap(() => d.push(new Uint8Array(0), true)),
    };
  });
}
