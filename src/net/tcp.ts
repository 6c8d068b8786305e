// TCP header codec (RFC 9293) and sequence-number arithmetic. Options we understand:
// MSS, window scale (RFC 7323) and SACK-permitted (RFC 2018) on SYNs, SACK blocks on any
// segment. Timestamps are parsed past and never echoed, so the guest does not expect them.

import { finishChecksum, onesSum, pseudoHeaderSum, PROTO_TCP } from './ipv4.js';

export const TCP_HLEN = 20;
export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Only on SYN segments. */
  mss?: number;
  wscale?: number;
  /** SACK-permitted (RFC 2018 §2); only on SYN segments. */
  sackOk?: boolean;
  /** SACK blocks (RFC 2018 §3), at most 4; [start, end) in sequence space. */
  sack?: SackBlock[];
}

export interface SackBlock {
  start: number;
  end: number;
}

export interface TcpSegment extends TcpHeaderFields {
  payload: Uint8Array;
}

export function parseTcp(bytes: Uint8Array, src: number, dst: number): TcpSegment | null {
  if (bytes.length < TCP_HLEN) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const dataOffset = (view.getUint8(12) >> 4) * 4;
  if (dataOffset < TCP_HLEN || dataOffset > bytes.length) return null;
  if (finishChecksum(onesSum(bytes, pseudoHeaderSum(src, dst, PROTO_TCP, bytes.length))) !== 0) return null;
  const seg: TcpSegment = {
    srcPort: view.getUint16(0),
    dstPort: view.getUint16(2),
    seq: view.getUint32(4),
    ack: view.getUint32(8),
    flags: view.getUint8(13),
    window: view.getUint16(14),
    payload: bytes.subarray(dataOffset),
  };
  for (let i = TCP_HLEN; i < dataOffset; ) {
    const kind = bytes[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= dataOffset) break;
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > dataOffset) break; // malformed: ignore the rest
    if (seg.flags & SYN) {
      if (kind === 2 && len === 4) seg.mss = view.getUint16(i + 2);
      if (kind === 3 && len === 3) seg.wscale = Math.min(14, bytes[i + 2]!); // RFC 7323 §2.3 caps at 14
      if (kind === 4 && len === 2) seg.sackOk = true;
    } else if (kind === 5 && len >= 10 && (len - 2) % 8 === 0) {
      // RFC 2018 §3: 1–4 blocks of left/right edges; the connection checks them against its window.
      const blocks: SackBlock[] = [];
      for (let b = i + 2; b + 8 <= i + len && blocks.length < 4; b += 8) blocks.push({ start: view.getUint32(b), end: view.getUint32(b + 4) });
      seg.sack = blocks;
    }
    i += len;
  }
  return seg;
}

export function tcpHeaderLength(f: TcpHeaderFields): number {
  const base = TCP_HLEN + (f.mss !== undefined ? 4 : 0) + (f.wscale !== undefined ? 4 : 0) + (f.sackOk ? 4 : 0);
  const blocks = sackBlockCount(f, base);
  return base + (blocks > 0 ? 4 + 8 * blocks : 0); // NOP NOP kind len + blocks
}

/** SACK blocks that fit in the 60-byte header after the other options. */
function sackBlockCount(f: TcpHeaderFields, base: number): number {
  return Math.max(0, Math.min(f.sack?.length ?? 0, 4, Math.floor((60 - base - 4) / 8)));
}

/** Writes the header (checksum zero) at `offset`; returns its length. */
export function writeTcpHeader(buf: Uint8Array, offset: number, f: TcpHeaderFields): number {
  const hlen = tcpHeaderLength(f);
  const view = new DataView(buf.buffer, buf.byteOffset + offset, hlen);
  view.setUint16(0, f.srcPort);
  view.setUint16(2, f.dstPort);
  view.setUint32(4, f.seq >>> 0);
  view.setUint32(8, f.ack >>> 0);
  view.setUint8(12, (hlen / 4) << 4);
  view.setUint8(13, f.flags);
  view.setUint16(14, f.window);
  view.setUint32(16, 0); // checksum, urgent pointer
  let o = TCP_HLEN;
  if (f.mss !== undefined) {
    view.setUint32(o, 0x02040000 | f.mss);
    o += 4;
  }
  if (f.wscale !== undefined) {
    view.setUint32(o, 0x01030300 | f.wscale); // NOP, kind 3, len 3, shift
    o += 4;
  }
  if (f.sackOk) {
    view.setUint32(o, 0x01010402); // NOP, NOP, kind 4, len 2
    o += 4;
  }
  const count = sackBlockCount(f, o);
  if (f.sack && count > 0) {
    const blocks = f.sack.slice(0, count);
    view.setUint32(o, 0x01010500 | (2 + 8 * blocks.length)); // NOP, NOP, kind 5, len
    o += 4;
    for (const b of blocks) {
      view.setUint32(o, b.start >>> 0);
      view.setUint32(o + 4, b.end >>> 0);
      o += 8;
    }
  }
  return hlen;
}

/** Fills the checksum of the segment (header + data) at buf[offset, offset+length). */
export function setTcpChecksum(buf: Uint8Array, offset: number, length: number, src: number, dst: number): void {
  const sum = finishChecksum(onesSum(buf.subarray(offset, offset + length), pseudoHeaderSum(src, dst, PROTO_TCP, length)));
  buf[offset + 16] = sum >> 8;
  buf[offset + 17] = sum & 0xff;
}

/** Segment length in sequence space (SYN and FIN take one number each). */
export function segmentLength(s: TcpSegment): number {
  return s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0);
}

// Sequence numbers wrap at 2^32; comparisons use the signed 32-bit difference.
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;
export const seqGe = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
