// Footers that locate the TOC at the end of a layer blob. Pure: bytes in, bytes out.
//  - eStargz: 51 bytes, an empty gzip member whose RFC 1952 extra subfield 'S','G'
//    holds the TOC offset as 16 hex digits + "STARGZ".
//  - legacy stargz: 47 bytes, the same without the subfield header (XLEN 22).
//  - zstd:chunked (estargz 0.12 flavour): the last 40 bytes, the payload of a skippable
//    frame: LE u64 TOC frame offset, compressed length, uncompressed length, type 1, "GnUlInUx".

export type Footer =
  | { format: 'estargz' | 'stargz'; tocOffset: number; size: number }
  | { format: 'zstd:chunked'; tocOffset: number; tocCompressedSize: number; tocSize: number; size: number };

export const ESTARGZ_FOOTER_SIZE = 51;
export const LEGACY_FOOTER_SIZE = 47;
export const ZSTD_CHUNKED_FOOTER_SIZE = 40;
/** How many tail bytes to fetch to recognise any footer. */
export const MAX_FOOTER_SIZE = ESTARGZ_FOOTER_SIZE;

const ZSTD_MAGIC = 'GnUlInUx';
const DEFLATE_EMPTY_FINAL = [0x01, 0x00, 0x00, 0xff, 0xff];

/** Tries eStargz, then legacy stargz, then zstd:chunked on the tail of a blob (at least 51 bytes, or the whole blob). */
export function parseFooter(tail: Uint8Array): Footer | undefined {
  return parseGzipFooter(tail.subarray(tail.length - ESTARGZ_FOOTER_SIZE), true) ?? parseGzipFooter(tail.subarray(tail.length - LEGACY_FOOTER_SIZE), false) ?? parseZstdFooter(tail.subarray(tail.length - ZSTD_CHUNKED_FOOTER_SIZE));
}

function parseGzipFooter(f: Uint8Array, subfield: boolean): Footer | undefined {
  const size = subfield ? ESTARGZ_FOOTER_SIZE : LEGACY_FOOTER_SIZE;
  if (f.length !== size || f[0] !== 0x1f || f[1] !== 0x8b || f[2] !== 8 || f[3] !== 0x04) return undefined;
  const xlen = f[10]! | (f[11]! << 8);
  if (xlen !== (subfield ? 26 : 22)) return undefined;
  let at = 12;
  if (subfield) {
    if (f[12] !== 0x53 || f[13] !== 0x47 || (f[14]! | (f[15]! << 8)) !== 22) return undefined;
    at = 16;
  }
  const text = ascii(f.subarray(at, at + 22));
  const m = /^([0-9a-f]{16})STARGZ$/.exec(text);
  if (!m) return undefined;
  const tail = f.subarray(at + 22);
  if (DEFLATE_EMPTY_FINAL.some((b, i) => tail[i] !== b) || tail.subarray(5).some((b) => b !== 0)) return undefined;
  const tocOffset = Number.parseInt(m[1]!, 16);
  if (!Number.isSafeInteger(tocOffset)) return undefined;
  return { format: subfield ? 'estargz' : 'stargz', tocOffset, size };
}

function parseZstdFooter(f: Uint8Array): Footer | undefined {
  if (f.length !== ZSTD_CHUNKED_FOOTER_SIZE || ascii(f.subarray(32)) !== ZSTD_MAGIC) return undefined;
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const u64 = (o: number) => v.getUint32(o, true) + v.getUint32(o + 4, true) * 2 ** 32;
  if (u64(24) !== 1) return undefined;
  const [tocOffset, tocCompressedSize, tocSize] = [u64(0), u64(8), u64(16)];
  if (![tocOffset, tocCompressedSize, tocSize].every(Number.isSafeInteger)) return undefined;
  return { format: 'zstd:chunked', tocOffset, tocCompressedSize, tocSize, size: ZSTD_CHUNKED_FOOTER_SIZE };
}

/** The 51-byte eStargz footer for a TOC member starting at `tocOffset`. */
export function estargzFooter(tocOffset: number): Uint8Array {
  const out = new Uint8Array(ESTARGZ_FOOTER_SIZE);
  out.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, 0x53, 0x47, 22, 0]);
  out.set(new TextEncoder().encode(tocOffset.toString(16).padStart(16, '0') + 'STARGZ'), 16);
  out.set(DEFLATE_EMPTY_FINAL, 38); // then CRC32 0 and ISIZE 0: the array is zeroed
  return out;
}

/** The 8-byte header of a zstd skippable frame (magic 0x184D2A50) holding `length` bytes. */
export function zstdSkippableHeader(length: number): Uint8Array {
  const out = new Uint8Array(8);
  out.set([0x50, 0x2a, 0x4d, 0x18]);
  new DataView(out.buffer).setUint32(4, length, true);
  return out;
}

/**
 * The zstd:chunked tail: a skippable frame whose 40-byte payload locates the TOC frame
 * (the last 40 bytes are what `parseFooter` reads).
 */
export function zstdChunkedFooter(tocOffset: number, tocCompressedSize: number, tocSize: number): Uint8Array {
  const out = new Uint8Array(8 + ZSTD_CHUNKED_FOOTER_SIZE);
  out.set(zstdSkippableHeader(ZSTD_CHUNKED_FOOTER_SIZE));
  const v = new DataView(out.buffer);
  const u64 = (at: number, n: number) => {
    v.setUint32(at, n % 2 ** 32, true);
    v.setUint32(at + 4, Math.floor(n / 2 ** 32), true);
  };
  u64(8, tocOffset);
  u64(16, tocCompressedSize);
  u64(24, tocSize);
  u64(32, 1);
  out.set(new TextEncoder().encode(ZSTD_MAGIC), 40);
  return out;
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
