// ARP for Ethernet/IPv4 (RFC 826), with the probe and announcement rules of RFC 5227:
// we answer only for addresses we own, so a guest probing for its own (leased) address
// never sees a conflict.

import type { Mac } from './ethernet.js';

export const ARP_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  op: number;
  senderMac: Mac;
  senderIp: number;
  targetMac: Mac;
  targetIp: number;
}

export function parseArp(bytes: Uint8Array): ArpPacket | null {
  if (bytes.length < ARP_LEN) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, ARP_LEN);
  // Only Ethernet hardware (1) with IPv4 protocol addresses.
  if (view.getUint16(0) !== 1 || view.getUint16(2) !== 0x0800 || view.getUint8(4) !== 6 || view.getUint8(5) !== 4) return null;
  return {
    op: view.getUint16(6),
    senderMac: bytes.slice(8, 14),
    senderIp: view.getUint32(14),
    targetMac: bytes.slice(18, 24),
    targetIp: view.getUint32(24),
  };
}

export function buildArp(p: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP_LEN);
  const view = new DataView(out.buffer);
  view.setUint16(0, 1);
  view.setUint16(2, 0x0800);
  view.setUint8(4, 6);
  view.setUint8(5, 4);
  view.setUint16(6, p.op);
  out.set(p.senderMac, 8);
  view.setUint32(14, p.senderIp >>> 0);
  out.set(p.targetMac, 18);
  view.setUint32(24, p.targetIp >>> 0);
  return out;
}

/**
 * The reply owed to an ARP packet, or null. A probe (sender 0.0.0.0) for one of our
 * addresses gets a reply, which is how a guest learns the address is taken; a
 * guest's announcement (sender == target) gets none.
 */
export function arpAnswer(p: ArpPacket, owns: (ip: number) => boolean, ourMac: Mac): ArpPacket | null {
  if (p.op !== ARP_REQUEST || !owns(p.targetIp) || p.senderIp === p.targetIp) return null;
  return { op: ARP_REPLY, senderMac: ourMac, senderIp: p.targetIp, targetMac: p.senderMac, targetIp: p.senderIp };
}

/** Whether the packet tells us where `senderIp` lives (probes carry no address). */
export function arpTeaches(p: ArpPacket): boolean {
  return p.senderIp !== 0 && (p.senderMac[0]! & 1) === 0;
}
