// The virtual network as the VM sees it: one gateway MAC answering for the gateway
// (DHCP, DNS), the 9P server and the reserved proxy address. This module only routes
// between layers; each layer parses and builds its own header.

import { arpAnswer, arpTeaches, ARP_REQUEST, buildArp, parseArp } from './arp.js';
import { systemClock, type Clock, type Logger } from './clock.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer, parseDhcp } from './dhcp.js';
import { dnsRefusal } from './dns.js';
import {
  BROADCAST_MAC, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, isUnicastMac, macEquals, parseEthernet, parseMac,
  writeEthernetHeader, type Mac,
} from './ethernet.js';
import {
  buildEchoReply, buildUnreachable, ICMP_ECHO_REQUEST, mayAnswerWithError, parseIcmp, UNREACH_PORT, UNREACH_PROTOCOL,
} from './icmp.js';
import { IPV4_HLEN, parseIp, parseIpv4, PROTO_ICMP, PROTO_TCP, PROTO_UDP, writeIpv4Header, type Ipv4Packet } from './ipv4.js';
import { Ipv4Reassembler } from './ipv4-reassembly.js';
import { parseTcp, setTcpChecksum, tcpHeaderLength, writeTcpHeader } from './tcp.js';
import type { TcpConnection, TcpTuning } from './tcp-connection.js';
import { TcpEndpoint } from './tcp-endpoint.js';
import { parseUdp, UDP_HLEN, writeUdp } from './udp.js';

export const NETWORK = {
  subnet: '192.168.127.0',
  netmask: '255.255.255.0',
  gatewayIp: '192.168.127.1',
  gatewayMac: '5a:94:ef:e4:0c:dd',
  firstLease: '192.168.127.3',
  p9Ip: '192.168.127.252',
  p9Port: 80,
  proxyIp: '192.168.127.253',
  mtu: 1500,
} as const;

const SUBNET = parseIp(NETWORK.subnet);
const NETMASK = parseIp(NETWORK.netmask);
const GATEWAY = parseIp(NETWORK.gatewayIp);
const P9 = parseIp(NETWORK.p9Ip);
const PROXY = parseIp(NETWORK.proxyIp);
const SUBNET_BROADCAST = (SUBNET | ~NETMASK) >>> 0;
const OUR_MAC = parseMac(NETWORK.gatewayMac);
const MIN_FRAME = 60; // Ethernet minimum without FCS; some emulated NICs expect it
const DNS_PORT = 53;

export interface NetStackOptions {
  /** Called for every accepted TCP connection to 192.168.127.252:80. */
  onTcpConnection(conn: TcpConnection): void;
  /** Default: performance.now / globalThis.setTimeout. */
  clock?: Clock;
  /** One info line per DHCP lease and per TCP connection; debug for drops. */
  logger?: Logger;
  /** Every frame in either direction (for pcap). */
  onFrameLog?(frame: Uint8Array, direction: 'in' | 'out'): void;
  /** TCP knobs (buffer sizes, timers); defaults suit the virtual wire. */
  tcp?: Partial<TcpTuning>;
  /** Source of initial sequence numbers (tests make them predictable). */
  random?: () => number;
}

export class NetStack {
  /** Set by the transport: frames to the VM. */
  send: (frame: Uint8Array) => void = () => {};
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly dhcp: DhcpServer;
  private readonly tcp: TcpEndpoint;
  private readonly reassembler: Ipv4Reassembler;
  /** IPv4 → MAC for guests, learned from every frame they send. */
  private readonly neighbours = new Map<number, Mac>();
  private readonly arpAsked = new Map<number, number>();
  private ipId = 1;
  private closed = false;

  constructor(private readonly opts: NetStackOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? {};
    this.reassembler = new Ipv4Reassembler(() => this.clock.now());
    this.dhcp = new DhcpServer(
      {
        serverIp: GATEWAY,
        netmask: NETMASK,
        router: GATEWAY,
        dns: GATEWAY,
        mtu: NETWORK.mtu,
        leaseSeconds: 24 * 3600,
        poolFirst: parseIp(NETWORK.firstLease),
        poolLast: (SUBNET | 250) >>> 0,
      },
      this.logger,
    );
    this.tcp = new TcpEndpoint({
      clock: this.clock,
      logger: this.logger,
      tuning: opts.tcp,
      random: opts.random,
      listening: (ip, port) => ip === P9 && port === NETWORK.p9Port,
      onConnection: (c) => this.opts.onTcpConnection(c),
      emit: (src, dst, f, queue, offset, length) => {
        const hlen = tcpHeaderLength(f);
        this.sendIpv4(src, dst, PROTO_TCP, hlen + length, (buf, o) => {
          writeTcpHeader(buf, o, f);
          if (queue && length > 0) queue.copyOut(offset, length, buf, o + hlen);
          setTcpChecksum(buf, o, hlen + length, src, dst);
        });
      },
    });
  }

  /** A raw Ethernet frame from the VM (no length prefix); the stack may keep references into it. Never throws. */
  receive(frame: Uint8Array): void {
    if (this.closed) return;
    try {
      this.opts.onFrameLog?.(frame, 'in');
      this.input(frame);
    } catch (e) {
      // A bug must not take the link down with it; the frame is lost, TCP recovers.
      this.logger.warn?.(`net: dropped a frame after an internal error: ${(e as Error).stack ?? String(e)}`);
    }
  }

  /** Resets every connection and stops; later frames are ignored. */
  close(): void {
    if (this.closed) return;
    this.tcp.closeAll('network closed');
    this.closed = true;
  }

  get tcpConnectionCount(): number {
    return this.tcp.connectionCount;
  }

  private owns(ip: number): boolean {
    return ip === GATEWAY || ip === P9 || ip === PROXY;
  }

  private input(frame: Uint8Array): void {
    const eth = parseEthernet(frame);
    if (!eth || !isUnicastMac(eth.src)) return;
    if (!macEquals(eth.dst, OUR_MAC) && !macEquals(eth.dst, BROADCAST_MAC)) return;
    if (eth.etherType === ETHERTYPE_ARP) {
      const p = parseArp(eth.payload);
      if (!p) return;
      if (arpTeaches(p) && this.inSubnet(p.senderIp) && !this.owns(p.senderIp)) this.learn(p.senderIp, p.senderMac);
      const answer = arpAnswer(p, (ip) => this.owns(ip), OUR_MAC);
      if (answer) this.sendFrame(eth.src, ETHERTYPE_ARP, buildArp(answer));
      return;
    }
    if (eth.etherType !== ETHERTYPE_IPV4) return;
    const ip = parseIpv4(eth.payload);
    if (!ip) return;
    if (this.inSubnet(ip.src) && !this.owns(ip.src) && ip.src !== SUBNET) this.learn(ip.src, eth.src);
    const broadcast = ip.dst === 0xffffffff || ip.dst === SUBNET_BROADCAST;
    if (!broadcast && !this.owns(ip.dst)) return; // we route nowhere
    if (ip.moreFragments || ip.fragmentOffset > 0) {
      const whole = this.reassembler.add(ip);
      if (!whole) return;
      ip.payload = whole;
      ip.moreFragments = false;
      ip.fragmentOffset = 0;
    }
    switch (ip.protocol) {
      case PROTO_ICMP:
        return this.icmpInput(ip, broadcast);
      case PROTO_UDP:
        return this.udpInput(ip, eth.src, broadcast);
      case PROTO_TCP: {
        if (broadcast) return;
        const seg = parseTcp(ip.payload, ip.src, ip.dst);
        if (seg) this.tcp.receive(ip.dst, ip.src, seg);
        return;
      }
      default:
        if (mayAnswerWithError(ip, broadcast)) this.sendIcmp(ip, buildUnreachable(UNREACH_PROTOCOL, ip));
    }
  }

  private icmpInput(ip: Ipv4Packet, broadcast: boolean): void {
    const m = parseIcmp(ip.payload);
    if (!m || broadcast || m.type !== ICMP_ECHO_REQUEST || m.code !== 0) return;
    // We never fragment (DF), so a reply that cannot fit one frame is not sent.
    if (IPV4_HLEN + m.bytes.length > NETWORK.mtu) return;
    this.sendIcmp(ip, buildEchoReply(m));
  }

  private udpInput(ip: Ipv4Packet, srcMac: Mac, broadcast: boolean): void {
    const d = parseUdp(ip.payload, ip.src, ip.dst);
    if (!d) return;
    if (d.dstPort === DHCP_SERVER_PORT && (broadcast || ip.dst === GATEWAY)) {
      const msg = parseDhcp(d.payload);
      const reply = msg && this.dhcp.handle(msg);
      if (reply) this.sendUdp(GATEWAY, reply.dstIp, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, reply.message, reply.dstMac);
      return;
    }
    if (d.dstPort === DNS_PORT && ip.dst === GATEWAY) {
      const reply = dnsRefusal(d.payload);
      if (reply) this.sendUdp(GATEWAY, ip.src, DNS_PORT, d.srcPort, reply, srcMac);
      return;
    }
    if (mayAnswerWithError(ip, broadcast)) this.sendIcmp(ip, buildUnreachable(UNREACH_PORT, ip));
  }

  private sendIcmp(about: Ipv4Packet, message: Uint8Array): void {
    this.sendIpv4(about.dst, about.src, PROTO_ICMP, message.length, (buf, o) => buf.set(message, o));
  }

  private sendUdp(src: number, dst: number, srcPort: number, dstPort: number, payload: Uint8Array, dstMac?: Mac): void {
    this.sendIpv4(src, dst, PROTO_UDP, UDP_HLEN + payload.length, (buf, o) => writeUdp(buf, o, src, dst, srcPort, dstPort, payload), dstMac);
  }

  /** Builds one frame: Ethernet + IPv4 headers here, the rest by `fill` at offset 34. */
  private sendIpv4(src: number, dst: number, protocol: number, length: number, fill: (buf: Uint8Array, offset: number) => void, dstMac?: Mac): void {
    const mac = dstMac ?? this.neighbours.get(dst);
    if (!mac) return this.askArp(dst); // dropped; TCP retransmits once the guest answers
    const frame = new Uint8Array(Math.max(MIN_FRAME, ETH_HLEN + IPV4_HLEN + length));
    writeEthernetHeader(frame, mac, OUR_MAC, ETHERTYPE_IPV4);
    writeIpv4Header(frame, ETH_HLEN, { src, dst, protocol, payloadLength: length, id: this.ipId });
    this.ipId = (this.ipId + 1) & 0xffff;
    fill(frame, ETH_HLEN + IPV4_HLEN);
    this.emit(frame);
  }

  private sendFrame(dst: Mac, etherType: number, payload: Uint8Array): void {
    const frame = new Uint8Array(Math.max(MIN_FRAME, ETH_HLEN + payload.length));
    writeEthernetHeader(frame, dst, OUR_MAC, etherType);
    frame.set(payload, ETH_HLEN);
    this.emit(frame);
  }

  private askArp(ip: number): void {
    if (!this.inSubnet(ip)) return;
    const now = this.clock.now();
    if (now - (this.arpAsked.get(ip) ?? -Infinity) < 1000) return;
    this.arpAsked.set(ip, now);
    const zero = new Uint8Array(6);
    this.sendFrame(BROADCAST_MAC, ETHERTYPE_ARP, buildArp({ op: ARP_REQUEST, senderMac: OUR_MAC, senderIp: GATEWAY, targetMac: zero, targetIp: ip }));
  }

  private emit(frame: Uint8Array): void {
    if (this.closed) return;
    this.opts.onFrameLog?.(frame, 'out');
    this.send(frame);
  }

  private learn(ip: number, mac: Mac): void {
    const known = this.neighbours.get(ip);
    if (known && macEquals(known, mac)) return;
    this.neighbours.set(ip, mac.slice(0, 6));
  }

  private inSubnet(ip: number): boolean {
    return ((ip & NETMASK) >>> 0) === SUBNET;
  }
}
