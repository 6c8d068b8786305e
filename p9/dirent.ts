// Rreaddir payload: a run of qid[13] offset[8] type[1] name[s] records, where `offset`
// is the cookie the client sends back to continue after that entry.

import type { Qid } from './messages.js';
import { Reader, WireError, Writer, encodeUtf8 } from './wire.js';

export interface Dirent {
  qid: Qid;
  /** Cookie of the entry after this one. */
  offset: bigint;
  /** DT_* value (DT_DIR 4, DT_REG 8, DT_LNK 10, …). */
  type: number;
  name: string;
}

/** Encodes dirents into at most `limit` bytes, stopping before the first that does not fit. */
export class DirentPacker {
  private readonly parts: Uint8Array[] = [];
  length = 0;
  constructor(private readonly limit: number) {}
  /** False (and nothing added) when the record would not fit. */
  add(d: Dirent): boolean {
    const name = encodeUtf8(d.name);
    const size = 13 + 8 + 1 + 2 + name.length;
    if (name.length > 0xffff || this.length + size > this.limit) return false;
    const w = new Writer(new Uint8Array(size));
    w.u8(d.qid.type);
    w.u32(d.qid.version);
    w.u64(d.qid.path);
    w.u64(d.offset);
    w.u8(d.type);
    w.str(name);
    this.parts.push(w.bytes);
    this.length += size;
    return true;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** For clients and tests; throws WireError on a truncated record. */
export function decodeDirents(data: Uint8Array): Dirent[] {
  const r = new Reader(data);
  const out: Dirent[] = [];
  while (r.remaining > 0) {
    if (r.remaining < 24) throw new WireError(`truncated dirent at ${r.pos}`);
    const qid = { type: r.u8(), version: r.u32(), path: r.u64() };
    out.push({ qid, offset: r.u64(), type: r.u8(), name: r.str() });
  }
  return out;
}
