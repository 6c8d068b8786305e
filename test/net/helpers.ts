// Test rig for src/net: a fake clock, frame builders for the VM side, and a stack wrapper
// collecting what the stack sends. Builders reuse the layer codecs (their own round-trip
// tests pin them against hand-written bytes).
import { buildArp, type ArpPacket, parseArp } from '../../src/net/arp.js';
import type { Clock } from '../../src/net/clock.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet, parseMac, writeEthernetHeader, type Mac } from '../../src/net/ethernet.js';
import { parseIp, parseIpv4, PROTO_TCP, PROTO_UDP, writeIpv4Header, type Ipv4Packet } from '../../src/net/ipv4.js';
import { NetStack, type NetStackOptions } from '../../src/net/stack.js';
import type { TcpConnection } from '../../src/net/tcp-connection.js';
import { parseTcp, setTcpChecksum, tcpHeaderLength, writeTcpHeader, type TcpHeaderFields, type TcpSegment } from '../../src/net/tcp.js';
import { parseUdp, writeUdp, type UdpDatagram } from '../../src/net/udp.js';

export const VM_MAC = parseMac('02:00:00:00:00:01');
export const GW_MAC = parseMac('5a:94:ef:e4:0c:dd');
export const VM_IP = parseIp('192.168.127.3');
export const GW_IP = parseIp('192.168.127.1');
export const P9_IP = parseIp('192.168.127.252');
export const PROXY_IP = parseIp('192.168.127.253');
export const BCAST_MAC = parseMac('ff:ff:ff:ff:ff:ff');

export class FakeClock implements Clock {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Runs due timers in deadline order (ties: creation order) while moving time forward. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let best: number | undefined;
      let bestAt = Infinity;
      for (const [id, t] of this.timers) if (t.at <= end && t.at < bestAt) (best = id), (bestAt = t.at);
      if (best === undefined) break;
      const timer = this.timers.get(best)!;
      this.timers.delete(best);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.size;
  }
}

export function ipFrame(src: number, dst: number, protocol: number, payload: Uint8Array, o: { srcMac?: Mac; dstMac?: Mac; id?: number; frag?: number } = {}): Uint8Array {
  const frame = new Uint8Array(34 + payload.length);
  writeEthernetHeader(frame, o.dstMac ?? GW_MAC, o.srcMac ?? VM_MAC, ETHERTYPE_IPV4);
  writeIpv4Header(frame, 14, { src, dst, protocol, payloadLength: payload.length, id: o.id ?? 7 });
  frame.set(payload, 34);
  if (o.frag !== undefined) {
    // Replace the DF flags word with the fragment field and refresh the checksum.
    frame[20] = o.frag >> 8;
    frame[21] = o.frag & 0xff;
    frame[24] = frame[25] = 0;
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += (frame[i]! << 8) | frame[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    frame[24] = (~sum >> 8) & 0xff;
    frame[25] = ~sum & 0xff;
  }
  return frame;
}

export function udpFrame(src: number, srcPort: number, dst: number, dstPort: number, payload: Uint8Array, o: { dstMac?: Mac; srcMac?: Mac } = {}): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  writeUdp(udp, 0, src, dst, srcPort, dstPort, payload);
  return ipFrame(src, dst, PROTO_UDP, udp, o);
}

export function tcpFrame(src: number, dst: number, f: TcpHeaderFields, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const hlen = tcpHeaderLength(f);
  const seg = new Uint8Array(hlen + payload.length);
  writeTcpHeader(seg, 0, f);
  seg.set(payload, hlen);
  setTcpChecksum(seg, 0, seg.length, src, dst);
  return ipFrame(src, dst, PROTO_TCP, seg);
}

export function arpFrame(p: ArpPacket, dstMac: Mac = BCAST_MAC): Uint8Array {
  const frame = new Uint8Array(42);
  writeEthernetHeader(frame, dstMac, p.senderMac, ETHERTYPE_ARP);
  frame.set(buildArp(p), 14);
  return frame;
}

export interface Decoded {
  dstMac: Mac;
  arp?: ArpPacket;
  ip?: Ipv4Packet;
  udp?: UdpDatagram;
  tcp?: TcpSegment;
}

export function decode(frame: Uint8Array): Decoded {
  const eth = parseEthernet(frame)!;
  const out: Decoded = { dstMac: eth.dst };
  if (eth.etherType === ETHERTYPE_ARP) out.arp = parseArp(eth.payload) ?? undefined;
  if (eth.etherType === ETHERTYPE_IPV4) {
    const ip = parseIpv4(eth.payload);
    if (!ip) throw new Error('stack sent an invalid IPv4 header');
    out.ip = ip;
    if (ip.protocol === PROTO_UDP) out.udp = parseUdp(ip.payload, ip.src, ip.dst) ?? undefined;
    if (ip.protocol === PROTO_TCP) {
      out.tcp = parseTcp(ip.payload, ip.src, ip.dst) ?? undefined;
      if (!out.tcp) throw new Error('stack sent a TCP segment with a bad checksum');
    }
  }
  return out;
}

/** A NetStack on a fake clock, with everything it sends collected. */
export class Net {
  clock = new FakeClock();
  out: Uint8Array[] = [];
  conns: TcpConnection[] = [];
  logs: string[] = [];
  stack: NetStack;
  private inbox = new Map<number, TcpSegment[]>();

  constructor(opts: Partial<NetStackOptions> = {}) {
    this.stack = new NetStack({
      clock: this.clock,
      random: () => 100_000,
      logger: { info: (m) => this.logs.push(m), warn: (m) => this.logs.push(`WARN ${m}`) },
      ...opts,
      onTcpConnection: (c) => {
        this.conns.push(c);
        opts.onTcpConnection?.(c);
      },
    });
    this.stack.send = (f) => this.out.push(f);
  }

  drain(): Decoded[] {
    const frames = this.out;
    this.out = [];
    return frames.map(decode);
  }

  /** TCP segments the stack sent to `port` since the last call. */
  tcpTo(port: number): TcpSegment[] {
    for (const d of this.drain()) {
      if (!d.tcp) continue;
      const list = this.inbox.get(d.tcp.dstPort) ?? [];
      list.push(d.tcp);
      this.inbox.set(d.tcp.dstPort, list);
    }
    const mine = this.inbox.get(port) ?? [];
    this.inbox.delete(port);
    return mine;
  }
}

/** Deterministic PRNG (mulberry32) so a failing run can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

