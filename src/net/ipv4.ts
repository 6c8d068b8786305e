// IPv4 header codec and the internet checksum (RFC 791, RFC 1071). Addresses are
// unsigned 32-bit numbers so they compare and key maps cheaply.

export const IPV4_HLEN = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const DEFAULT_TTL = 64;

export interface Ipv4Packet {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes. */
  fragmentOffset: number;
  headerLength: number;
  /** Header + payload, padding trimmed (ICMP errors quote it). */
  packet: Uint8Array;
  payload: Uint8Array;
}

/** One's-complement sum of 16-bit words, unfolded; chain calls to cover several pieces. */
export function onesSum(data: Uint8Array, sum = 0): number {
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[n]! << 8;
  return sum;
}

/** Folds a sum from onesSum and complements it: the value that goes in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export function internetChecksum(data: Uint8Array): number {
  return finishChecksum(onesSum(data));
}

/** The TCP/UDP pseudo header (RFC 793 §3.1) as a partial sum. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** Parses and validates; null for anything we must drop (bad version, length or checksum). */
export function parseIpv4(bytes: Uint8Array): Ipv4Packet | null {
  if (bytes.length < IPV4_HLEN) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const vihl = view.getUint8(0);
  const headerLength = (vihl & 0x0f) * 4;
  const totalLength = view.getUint16(2);
  if (vihl >> 4 !== 4 || headerLength < IPV4_HLEN || totalLength < headerLength || totalLength > bytes.length) return null;
  const header = bytes.subarray(0, headerLength);
  if (finishChecksum(onesSum(header)) !== 0) return null;
  const frag = view.getUint16(6);
  const packet = bytes.subarray(0, totalLength); // drops Ethernet padding
  return {
    src: view.getUint32(12),
    dst: view.getUint32(16),
    protocol: view.getUint8(9),
    ttl: view.getUint8(8),
    id: view.getUint16(4),
    dontFragment: (frag & 0x4000) !== 0,
    moreFragments: (frag & 0x2000) !== 0,
    fragmentOffset: (frag & 0x1fff) * 8,
    headerLength,
    packet,
    payload: packet.subarray(headerLength),
  };
}

export interface Ipv4HeaderFields {
  src: number;
  dst: number;
  protocol: number;
  payloadLength: number;
  id: number;
  ttl?: number;
}

/**
 * Writes a 20-byte header with DF set: we never fragment what we send (our segments fit
 * the 1500 MTU), and DF lets the guest's path-MTU logic stay quiet.
 */
export function writeIpv4Header(buf: Uint8Array, offset: number, f: Ipv4HeaderFields): void {
  const view = new DataView(buf.buffer, buf.byteOffset + offset, IPV4_HLEN);
  view.setUint8(0, 0x45);
  view.setUint8(1, 0);
  view.setUint16(2, IPV4_HLEN + f.payloadLength);
  view.setUint16(4, f.id & 0xffff);
  view.setUint16(6, 0x4000);
  view.setUint8(8, f.ttl ?? DEFAULT_TTL);
  view.setUint8(9, f.protocol);
  view.setUint16(10, 0);
  view.setUint32(12, f.src >>> 0);
  view.setUint32(16, f.dst >>> 0);
  view.setUint16(10, internetChecksum(buf.subarray(offset, offset + IPV4_HLEN)));
}

export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

export function parseIp(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`bad IPv4 address ${text}`);
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0) >>> 0;
}
