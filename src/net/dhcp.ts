// DHCP server (RFC 2131/2132) for the one virtual subnet. Each client MAC keeps the
// address it first got for the life of the stack (also after RELEASE), so a guest that
// reboots or renews always comes back to the same IP; .3 goes to the first MAC.

import { BROADCAST_MAC, macToString, type Mac } from './ethernet.js';
import { ipToString } from './ipv4.js';
import type { Logger } from './clock.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC = 0x63825363;
const FIXED_LEN = 236;

export const DISCOVER = 1, OFFER = 2, REQUEST = 3, DECLINE = 4, ACK = 5, NAK = 6, RELEASE = 7, INFORM = 8;

const OPT_MASK = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_MTU = 26, OPT_REQUESTED_IP = 50, OPT_LEASE = 51;
const OPT_TYPE = 53, OPT_SERVER_ID = 54, OPT_MESSAGE = 56, OPT_END = 255, OPT_PAD = 0;

export interface DhcpMessage {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  chaddr: Mac;
  /** Option 53; 0 when absent (plain BOOTP, which we ignore). */
  type: number;
  options: Map<number, Uint8Array>;
}

export function parseDhcp(bytes: Uint8Array): DhcpMessage | null {
  if (bytes.length < FIXED_LEN + 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint8(1) !== 1 || view.getUint8(2) !== 6 || view.getUint32(FIXED_LEN) !== MAGIC) return null;
  const options = new Map<number, Uint8Array>();
  let i = FIXED_LEN + 4;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (i + 1 >= bytes.length) return null;
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) return null;
    if (!options.has(code)) options.set(code, bytes.slice(i + 2, i + 2 + len));
    i += 2 + len;
  }
  const type = options.get(OPT_TYPE);
  return {
    op: view.getUint8(0),
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: view.getUint32(12),
    yiaddr: view.getUint32(16),
    siaddr: view.getUint32(20),
    giaddr: view.getUint32(24),
    chaddr: bytes.slice(28, 34),
    type: type && type.length === 1 ? type[0]! : 0,
    options,
  };
}

export type DhcpOption = [code: number, value: Uint8Array];

/** Builds a BOOTP message; padded to the 300 bytes some old clients insist on. */
export function buildDhcp(m: Omit<DhcpMessage, 'options' | 'type'>, type: number, options: DhcpOption[]): Uint8Array {
  let optLen = 3 + 1; // message type + END
  for (const [, v] of options) optLen += 2 + v.length;
  const out = new Uint8Array(Math.max(300, FIXED_LEN + 4 + optLen));
  const view = new DataView(out.buffer);
  view.setUint8(0, m.op);
  view.setUint8(1, 1);
  view.setUint8(2, 6);
  view.setUint32(4, m.xid);
  view.setUint16(8, m.secs);
  view.setUint16(10, m.flags);
  view.setUint32(12, m.ciaddr >>> 0);
  view.setUint32(16, m.yiaddr >>> 0);
  view.setUint32(20, m.siaddr >>> 0);
  view.setUint32(24, m.giaddr >>> 0);
  out.set(m.chaddr.subarray(0, 6), 28);
  view.setUint32(FIXED_LEN, MAGIC);
  let i = FIXED_LEN + 4;
  out[i++] = OPT_TYPE;
  out[i++] = 1;
  out[i++] = type;
  for (const [code, v] of options) {
    out[i++] = code;
    out[i++] = v.length;
    out.set(v, i);
    i += v.length;
  }
  out[i] = OPT_END;
  return out;
}

export interface DhcpConfig {
  serverIp: number;
  netmask: number;
  router: number;
  dns: number;
  mtu: number;
  leaseSeconds: number;
  poolFirst: number;
  poolLast: number;
}

export interface DhcpReply {
  message: Uint8Array;
  /** Where the reply goes: 255.255.255.255 + broadcast MAC, or the client itself. */
  dstIp: number;
  dstMac: Mac;
}

interface Binding {
  ip: number;
  bound: boolean;
  /** Order of release, so a full pool reclaims the longest-released address first. */
  releasedAt: number;
}

export class DhcpServer {
  private readonly byMac = new Map<string, Binding>();
  private readonly byIp = new Map<number, string>();
  private readonly declined = new Set<number>();
  private releases = 0;

  constructor(
    private readonly cfg: DhcpConfig,
    private readonly logger: Logger = {},
  ) {}

  /** The address this MAC has (bound or not), if any. */
  addressOf(mac: Mac): number | undefined {
    return this.byMac.get(macToString(mac))?.ip;
  }

  handle(m: DhcpMessage): DhcpReply | null {
    if (m.op !== 1) return null;
    const mac = macToString(m.chaddr);
    switch (m.type) {
      case DISCOVER: {
        const b = this.allocate(mac);
        return b ? this.reply(m, OFFER, b.ip, true) : null;
      }
      case REQUEST:
        return this.request(m, mac);
      case RELEASE: {
        const b = this.byMac.get(mac);
        if (b && b.ip === m.ciaddr && b.bound) {
          b.bound = false;
          b.releasedAt = ++this.releases;
          this.logger.info?.(`DHCP: ${mac} released ${ipToString(b.ip)}`);
        }
        return null;
      }
      case DECLINE: {
        // The guest found the address in use: never hand it out again, give this MAC another.
        const ip = readIp(m.options.get(OPT_REQUESTED_IP));
        const b = this.byMac.get(mac);
        if (b && ip === b.ip) {
          this.declined.add(ip);
          this.byMac.delete(mac);
          this.byIp.delete(ip);
        }
        return null;
      }
      case INFORM:
        // The guest configured its address itself and only wants parameters: no lease.
        return m.ciaddr ? this.reply(m, ACK, 0, false) : null;
      default:
        return null;
    }
  }

  private request(m: DhcpMessage, mac: string): DhcpReply | null {
    const serverId = readIp(m.options.get(OPT_SERVER_ID));
    const requested = readIp(m.options.get(OPT_REQUESTED_IP));
    if (serverId !== undefined && serverId !== this.cfg.serverIp) return null; // chose another server
    const wanted = requested ?? m.ciaddr; // SELECTING/INIT-REBOOT name it; RENEWING uses ciaddr
    if (!wanted) return null;
    const b = this.allocate(mac);
    if (!b || b.ip !== wanted) return this.nak(m, `requested ${ipToString(wanted)}`);
    if (!b.bound) this.logger.info?.(`DHCP: leased ${ipToString(b.ip)} to ${mac}`);
    b.bound = true;
    return this.reply(m, ACK, b.ip, true);
  }

  private allocate(mac: string): Binding | null {
    const have = this.byMac.get(mac);
    if (have) return have;
    let ip = 0;
    for (let a = this.cfg.poolFirst; a <= this.cfg.poolLast; a++) {
      if (!this.byIp.has(a) && !this.declined.has(a)) {
        ip = a;
        break;
      }
    }
    if (!ip) {
      // Pool full: take the address released longest ago from its previous owner.
      let victim: string | undefined;
      let oldest = Infinity;
      for (const [owner, b] of this.byMac) {
        if (!b.bound && b.releasedAt < oldest) {
          oldest = b.releasedAt;
          victim = owner;
        }
      }
      if (victim === undefined) {
        this.logger.warn?.(`DHCP: address pool exhausted, ignoring ${mac}`);
        return null;
      }
      ip = this.byMac.get(victim)!.ip;
      this.byMac.delete(victim);
    }
    const b: Binding = { ip, bound: false, releasedAt: 0 };
    this.byMac.set(mac, b);
    this.byIp.set(ip, mac);
    return b;
  }

  private reply(m: DhcpMessage, type: number, yiaddr: number, lease: boolean): DhcpReply {
    const c = this.cfg;
    const options: DhcpOption[] = [
      [OPT_SERVER_ID, ipBytes(c.serverIp)],
      [OPT_MASK, ipBytes(c.netmask)],
      [OPT_ROUTER, ipBytes(c.router)],
      [OPT_DNS, ipBytes(c.dns)],
      [OPT_MTU, new Uint8Array([c.mtu >> 8, c.mtu & 0xff])],
    ];
    if (lease) options.push([OPT_LEASE, ipBytes(c.leaseSeconds)]);
    const message = buildDhcp({ ...m, op: 2, secs: 0, yiaddr, siaddr: 0 }, type, options);
    // RFC 2131 §4.1: unicast to ciaddr when the client has one; broadcast when it
    // asked to; otherwise to the new address at the client's MAC (it has no ARP yet).
    if (m.ciaddr) return { message, dstIp: m.ciaddr, dstMac: m.chaddr };
    if (m.flags & 0x8000) return { message, dstIp: 0xffffffff, dstMac: BROADCAST_MAC };
    return { message, dstIp: yiaddr, dstMac: m.chaddr };
  }

  private nak(m: DhcpMessage, why: string): DhcpReply {
    this.logger.debug?.(`DHCP: NAK to ${macToString(m.chaddr)}: ${why}`);
    const text = new TextEncoder().encode(why.slice(0, 200));
    const message = buildDhcp({ ...m, op: 2, secs: 0, ciaddr: 0, yiaddr: 0, siaddr: 0 }, NAK, [
      [OPT_SERVER_ID, ipBytes(this.cfg.serverIp)],
      [OPT_MESSAGE, text],
    ]);
    return { message, dstIp: 0xffffffff, dstMac: BROADCAST_MAC };
  }
}

export function ipBytes(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

function readIp(v: Uint8Array | undefined): number | undefined {
  return v && v.length === 4 ? ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0 : undefined;
}
