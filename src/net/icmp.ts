// ICMP (RFC 792): echo replies, and destination-unreachable errors for closed UDP ports
// and unknown protocols.

import { internetChecksum, type Ipv4Packet } from './ipv4.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const UNREACH_PROTOCOL = 2;
export const UNREACH_PORT = 3;

export interface IcmpMessage {
  type: number;
  code: number;
  /** The whole message, header included. */
  bytes: Uint8Array;
}

export function parseIcmp(bytes: Uint8Array): IcmpMessage | null {
  if (bytes.length < 8 || internetChecksum(bytes) !== 0) return null;
  return { type: bytes[0]!, code: bytes[1]!, bytes };
}

/** The reply to an echo request: same identifier, sequence and data. */
export function buildEchoReply(request: IcmpMessage): Uint8Array {
  const out = request.bytes.slice();
  out[0] = ICMP_ECHO_REPLY;
  out[1] = 0;
  setChecksum(out);
  return out;
}

export function buildEchoRequest(id: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, ICMP_ECHO_REQUEST);
  view.setUint16(4, id);
  view.setUint16(6, seq);
  out.set(data, 8);
  setChecksum(out);
  return out;
}

/**
 * Destination unreachable quoting the offending datagram's header and first 8 payload
 * bytes — enough for the guest to find the socket (ports) it concerns.
 */
export function buildUnreachable(code: number, offending: Ipv4Packet): Uint8Array {
  const quote = offending.packet.subarray(0, Math.min(offending.packet.length, offending.headerLength + 8));
  const out = new Uint8Array(8 + quote.length);
  out[0] = ICMP_UNREACHABLE;
  out[1] = code;
  out.set(quote, 8);
  setChecksum(out);
  return out;
}

/** ICMP errors must not answer errors, fragments after the first, or broadcasts (RFC 1122 §3.2.2). */
export function mayAnswerWithError(p: Ipv4Packet, isBroadcast: boolean): boolean {
  if (isBroadcast || p.fragmentOffset !== 0 || p.src === 0) return false;
  if (p.protocol === 1 && p.payload.length > 0) {
    const t = p.payload[0]!;
    if (t !== ICMP_ECHO_REQUEST && t !== ICMP_ECHO_REPLY) return false;
  }
  return true;
}

function setChecksum(out: Uint8Array): void {
  out[2] = 0;
  out[3] = 0;
  const sum = internetChecksum(out);
  out[2] = sum >> 8;
  out[3] = sum & 0xff;
}
