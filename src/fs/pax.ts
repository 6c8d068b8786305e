// Binary-safe PAX records. tar-stream decodes every PAX value as UTF-8, which corrupts
// xattr values such as `security.capability` (raw little-endian words). We decode the
// same header block ourselves, keeping values as bytes, and hang the result on the
// record object tar-stream attaches to the entry.
import type { extract } from 'tar-stream';

/** Key under which the raw records ride along on tar-stream's `header.pax` object. */
export const RAW_PAX = Symbol('raw PAX records');

export type RawPax = Map<string, Uint8Array>;

/** The runtime shape of a tar-stream header (its typings omit `pax`), with RAW_PAX attached. */
export interface TarStreamHeader {
  name: string;
  type?: string | null;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: Date;
  linkname?: string | null;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: (Record<string, string> & { [RAW_PAX]?: RawPax }) | null;
}

const keyDecoder = new TextDecoder();

/** Parses `"<len> <key>=<value>\n"` records; malformed records end the parse, as in tar-stream. */
export function decodePaxRecords(buf: Uint8Array): RawPax {
  const records: RawPax = new Map();
  let pos = 0;
  while (pos < buf.length) {
    let space = pos;
    while (space < buf.length && buf[space] !== 0x20) space++;
    const len = Number.parseInt(keyDecoder.decode(buf.subarray(pos, space)), 10);
    if (!(len > 0) || pos + len > buf.length || space >= pos + len) break;
    const record = buf.subarray(space + 1, pos + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) records.set(keyDecoder.decode(record.subarray(0, eq)), record.slice(eq + 1));
    pos += len;
  }
  return records;
}

type Extract = ReturnType<typeof extract>;
interface ExtractInternals {
  _header: { type?: string } | null;
  _pax: Record<string | symbol, unknown> | null;
  _paxGlobal: Record<string | symbol, unknown> | null;
  _decodeLongHeader(buf: Uint8Array): void;
}

/**
 * Wraps tar-stream's long-header decoding (an internal method of the pinned tar-stream 3
 * major) so every PAX record object also carries its raw bytes under RAW_PAX. Global
 * headers' records merge under the entry's own, as tar-stream merges the strings.
 */
export function keepRawPax(ex: Extract): void {
  const inner = ex as unknown as ExtractInternals;
  const original = inner._decodeLongHeader;
  if (typeof original !== 'function') throw new Error('tar-stream internals changed: _decodeLongHeader missing');
  inner._decodeLongHeader = function (this: ExtractInternals, buf: Uint8Array) {
    original.call(this, buf);
    const type = this._header?.type;
    if (type === 'pax-header' && this._pax) {
      const global = (this._paxGlobal?.[RAW_PAX] as RawPax | undefined) ?? new Map();
      this._pax[RAW_PAX] = new Map([...global, ...decodePaxRecords(buf)]);
    } else if (type === 'pax-global-header' && this._paxGlobal) {
      this._paxGlobal[RAW_PAX] = decodePaxRecords(buf);
    }
  };
}
