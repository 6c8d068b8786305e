// Decompression of single eStargz members (gzip) / zstd:chunked frames, and the tiny tar
// reader for the TOC member. Pure and synchronous (pako, fzstd): runs in browsers too.

import { Inflate } from 'pako';
import { Decompress } from 'fzstd';
import { concatBytes, ImageError } from '../oci/index.js';

export type ChunkCompression = 'gzip' | 'zstd';

/**
 * The first `want` uncompressed bytes of the member (or frame) that starts `bytes`.
 * Whatever follows those bytes in the extent (tar padding, the next headers, another
 * member, a skippable frame header) may be cut short or odd: it is not needed, so errors
 * after `want` bytes have come out are ignored; before, they are BAD_TAR.
 */
export function decompressPrefix(kind: ChunkCompression, bytes: Uint8Array, want: number, what: string): Uint8Array {
  const parts: Uint8Array[] = [];
  let got = 0;
  const take = (chunk: Uint8Array) => {
    if (got >= want) return;
    const c = chunk.subarray(0, want - got);
    parts.push(c.slice());
    got += c.length;
  };
  let failure: unknown;
  try {
    if (kind === 'gzip') {
      const inf = new Inflate();
      inf.onData = (c: Uint8Array) => take(c);
      inf.push(bytes, true);
      if (inf.err && got < want) failure = inf.msg || `zlib error ${inf.err}`;
    } else {
      const d = new Decompress((c) => take(c));
      d.push(bytes, true);
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  }
  if (got < want) {
    // A decoder error means the bytes fetched are corrupt (a CRC or stream error), not short.
    const message = failure
      ? `${what}: corrupt compressed data (${String(failure)})`
      : `${what}: decompresses to ${got} bytes, expected at least ${want}`;
    throw new ImageError('BAD_TAR', message);
  }
  return concatBytes(parts, want);
}

/** Everything a gzip member (or several) decompresses to; BAD_TAR when corrupt. */
export function gunzipAll(bytes: Uint8Array, what: string, max: number): Uint8Array {
  const inf = new Inflate();
  const parts: Uint8Array[] = [];
  let total = 0;
  inf.onData = (c: Uint8Array) => {
    total += c.length;
    if (total > max) throw new ImageError('BAD_TAR', `${what}: decompresses to more than ${max} bytes`);
    parts.push(c.slice());
  };
  inf.push(bytes, true);
  if (inf.err) throw new ImageError('BAD_TAR', `${what}: ${inf.msg || `zlib error ${inf.err}`}`);
  return concatBytes(parts, total);
}

/** A whole zstd frame; BAD_TAR when corrupt. */
export function unzstd(bytes: Uint8Array, what: string, size: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = decompressPrefix('zstd', bytes, size, what);
  } catch (e) {
    throw e instanceof ImageError ? e : new ImageError('BAD_TAR', `${what}: ${String(e)}`);
  }
  return out;
}

/**
 * The content of the tar entry `name` in an uncompressed tar (the TOC member holds one
 * entry, maybe preceded by PAX headers, which are skipped).
 */
export function tarEntryContent(tar: Uint8Array, name: string, what: string): Uint8Array {
  const dec = new TextDecoder();
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const field = (o: number, n: number) => {
      const f = h.subarray(o, o + n);
      const z = f.indexOf(0);
      return dec.decode(z < 0 ? f : f.subarray(0, z));
    };
    const sizeText = field(124, 12).trim();
    const size = /^[0-7]+$/.test(sizeText) ? Number.parseInt(sizeText, 8) : NaN;
    if (!Number.isSafeInteger(size)) throw new ImageError('BAD_TAR', `${what}: bad tar header (size ${JSON.stringify(sizeText)})`);
    const body = at + 512;
    if (body + size > tar.length) throw new ImageError('BAD_TAR', `${what}: tar entry runs past the end`);
    const type = String.fromCharCode(h[156]!);
    if (type !== 'x' && type !== 'g' && field(0, 100) === name) return tar.subarray(body, body + size);
    at = body + Math.ceil(size / 512) * 512;
  }
  throw new ImageError('BAD_TAR', `${what}: no ${name} entry`);
}

