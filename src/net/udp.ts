// UDP (RFC 768) with checksums verified on input and always computed on output.

import { finishChecksum, onesSum, pseudoHeaderSum, PROTO_UDP } from './ipv4.js';

export const UDP_HLEN = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export function parseUdp(bytes: Uint8Array, src: number, dst: number): UdpDatagram | null {
  if (bytes.length < UDP_HLEN) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, UDP_HLEN);
  const length = view.getUint16(4);
  if (length < UDP_HLEN || length > bytes.length) return null;
  const datagram = bytes.subarray(0, length);
  // Zero means the sender did not compute one (allowed for IPv4).
  if (view.getUint16(6) !== 0 && finishChecksum(onesSum(datagram, pseudoHeaderSum(src, dst, PROTO_UDP, length))) !== 0) return null;
  return { srcPort: view.getUint16(0), dstPort: view.getUint16(2), payload: datagram.subarray(UDP_HLEN) };
}

/** Writes header + payload at `offset` of `buf` (which must have room for both). */
export function writeUdp(
  buf: Uint8Array,
  offset: number,
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): void {
  const length = UDP_HLEN + payload.length;
  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  view.setUint16(0, srcPort);
  view.setUint16(2, dstPort);
  view.setUint16(4, length);
  view.setUint16(6, 0);
  buf.set(payload, offset + UDP_HLEN);
  const sum = finishChecksum(onesSum(buf.subarray(offset, offset + length), pseudoHeaderSum(src, dst, PROTO_UDP, length)));
  view.setUint16(6, sum === 0 ? 0xffff : sum); // 0 would mean "no checksum"
}
