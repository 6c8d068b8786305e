import { describe, expect, it } from 'vitest';
import { buildDhcp, parseDhcp, DISCOVER, REQUEST, RELEASE, INFORM, OFFER, ACK as DHCP_ACK, NAK, ipBytes } from '../../src/net/dhcp.js';
import { macToString, parseMac } from '../../src/net/ethernet.js';
import { buildEchoRequest, parseIcmp } from '../../src/net/icmp.js';
import { ipToString, parseIp, PROTO_ICMP } from '../../src/net/ipv4.js';
import { ACK, RST, SYN } from '../../src/net/tcp.js';
import { arpFrame, BCAST_MAC, GW_IP, GW_MAC, ipFrame, Net, P9_IP, PROXY_IP, tcpFrame, udpFrame, VM_IP, VM_MAC } from './helpers.js';

const ZERO_MAC = new Uint8Array(6);

describe('ARP through the stack', () => {
  it('answers for .1, .252 and .253 with the gateway MAC, never for the VM or others', () => {
    const net = new Net();
    for (const target of ['192.168.127.1', '192.168.127.252', '192.168.127.253']) {
      net.stack.receive(arpFrame({ op: 1, senderMac: VM_MAC, senderIp: VM_IP, targetMac: ZERO_MAC, targetIp: parseIp(target) }));
      const [reply] = net.drain();
      expect(macToString(reply!.dstMac)).toBe('02:00:00:00:00:01');
      expect(reply!.arp).toMatchObject({ op: 2, senderIp: parseIp(target), targetIp: VM_IP });
      expect(macToString(reply!.arp!.senderMac)).toBe('5a:94:ef:e4:0c:dd');
    }
    // Probes: for the VM's own address (DHCP conflict check) silence; for ours a reply.
    net.stack.receive(arpFrame({ op: 1, senderMac: VM_MAC, senderIp: 0, targetMac: ZERO_MAC, targetIp: VM_IP }));
    net.stack.receive(arpFrame({ op: 1, senderMac: VM_MAC, senderIp: VM_IP, targetMac: ZERO_MAC, targetIp: VM_IP })); // announcement
    net.stack.receive(arpFrame({ op: 1, senderMac: VM_MAC, senderIp: VM_IP, targetMac: ZERO_MAC, targetIp: parseIp('192.168.127.9') }));
    expect(net.drain()).toEqual([]);
    net.stack.receive(arpFrame({ op: 1, senderMac: VM_MAC, senderIp: 0, targetMac: ZERO_MAC, targetIp: GW_IP }));
    const [probeReply] = net.drain();
    expect(probeReply!.arp).toMatchObject({ op: 2, senderIp: GW_IP, targetIp: 0 });
  });

  it('learns the VM MAC and asks by ARP when it does not know it', () => {
    const net = new Net();
    const ping = buildEchoRequest(1, 1, new Uint8Array(4));
    // Frame from a MAC we never saw, to .1: we reply to the MAC the frame came from.
    const other = parseMac('02:aa:bb:cc:dd:ee');
    net.stack.receive(ipFrame(parseIp('192.168.127.7'), GW_IP, PROTO_ICMP, ping, { srcMac: other }));
    const [reply] = net.drain();
    expect(macToString(reply!.dstMac)).toBe('02:aa:bb:cc:dd:ee');
  });
});

describe('ICMP', () => {
  it('replies to pings to the gateway and the 9P address', () => {
    const net = new Net();
    for (const dst of [GW_IP, P9_IP]) {
      const data = new TextEncoder().encode('abcdefgh');
      net.stack.receive(ipFrame(VM_IP, dst, PROTO_ICMP, buildEchoRequest(0x42, 3, data)));
      const [r] = net.drain();
      expect(r!.ip).toMatchObject({ src: dst, dst: VM_IP, ttl: 64, dontFragment: true });
      const icmp = parseIcmp(r!.ip!.payload)!;
      expect(icmp.type).toBe(0);
      expect(icmp.bytes.subarray(4)).toEqual(buildEchoRequest(0x42, 3, data).subarray(4));
    }
  });

  it('ignores pings to other hosts and with bad checksums; reassembles a fragmented ping', () => {
    const net = new Net();
    net.stack.receive(ipFrame(VM_IP, parseIp('8.8.8.8'), PROTO_ICMP, buildEchoRequest(1, 1, new Uint8Array(8))));
    const bad = buildEchoRequest(1, 1, new Uint8Array(8));
    bad[10] = 1;
    net.stack.receive(ipFrame(VM_IP, GW_IP, PROTO_ICMP, bad));
    expect(net.drain()).toEqual([]);
    const big = buildEchoRequest(9, 9, new Uint8Array(1200).fill(5));
    net.stack.receive(ipFrame(VM_IP, GW_IP, PROTO_ICMP, big.subarray(0, 800), { frag: 0x2000, id: 99 }));
    net.stack.receive(ipFrame(VM_IP, GW_IP, PROTO_ICMP, big.subarray(800), { frag: 100, id: 99 }));
    const [r] = net.drain();
    expect(r!.ip!.payload.length).toBe(1208);
    expect(parseIcmp(r!.ip!.payload)!.type).toBe(0);
  });

  it('port unreachable for closed UDP ports; protocol unreachable; nothing for broadcasts', () => {
    const net = new Net();
    net.stack.receive(udpFrame(VM_IP, 5555, P9_IP, 9999, new Uint8Array([1, 2, 3])));
    const [r] = net.drain();
    const icmp = parseIcmp(r!.ip!.payload)!;
    expect([icmp.type, icmp.code]).toEqual([3, 3]);
    expect(icmp.bytes.length).toBe(8 + 20 + 8); // quotes header + 8 bytes
    net.stack.receive(ipFrame(VM_IP, GW_IP, 132, new Uint8Array(8)));
    expect(parseIcmp(net.drain()[0]!.ip!.payload)).toMatchObject({ type: 3, code: 2 });
    net.stack.receive(udpFrame(VM_IP, 5555, 0xffffffff, 9999, new Uint8Array(3), { dstMac: BCAST_MAC }));
    expect(net.drain()).toEqual([]);
  });
});

describe('TCP closed ports', () => {
  it('RSTs SYNs to closed ports and stray ACKs; nothing for a RST', () => {
    const net = new Net();
    net.stack.receive(tcpFrame(VM_IP, PROXY_IP, { srcPort: 3333, dstPort: 443, seq: 1000, ack: 0, flags: SYN, window: 100 }));
    net.stack.receive(tcpFrame(VM_IP, GW_IP, { srcPort: 3333, dstPort: 53, seq: 1000, ack: 0, flags: SYN, window: 100 }));
    net.stack.receive(tcpFrame(VM_IP, P9_IP, { srcPort: 3334, dstPort: 80, seq: 1000, ack: 777, flags: ACK, window: 100 }));
    net.stack.receive(tcpFrame(VM_IP, P9_IP, { srcPort: 3335, dstPort: 80, seq: 1000, ack: 777, flags: RST, window: 100 }));
    const out = net.drain().map((d) => d.tcp!);
    expect(out.length).toBe(3);
    expect(out[0]).toMatchObject({ flags: RST | ACK, seq: 0, ack: 1001, srcPort: 443 });
    expect(out[1]).toMatchObject({ flags: RST | ACK, ack: 1001, srcPort: 53 });
    expect(out[2]).toMatchObject({ flags: RST, seq: 777 });
  });
});

describe('DNS', () => {
  it('refuses queries to the gateway at once', () => {
    const net = new Net();
    const q = new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1]);
    net.stack.receive(udpFrame(VM_IP, 40000, GW_IP, 53, q));
    const [r] = net.drain();
    expect(r!.udp).toMatchObject({ srcPort: 53, dstPort: 40000 });
    expect(r!.udp!.payload[3]! & 0xf).toBe(5);
  });
});

describe('DHCP', () => {
  const dhcp = (mac: Uint8Array, type: number, opts: [number, Uint8Array][] = [], ciaddr = 0, xid = 0x1234) =>
    udpFrame(ciaddr, 68, ciaddr ? GW_IP : 0xffffffff, 67, buildDhcp({ op: 1, xid, secs: 0, flags: 0, ciaddr, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: mac }, type, opts), {
      srcMac: mac,
      dstMac: ciaddr ? GW_MAC : BCAST_MAC,
    });
  const reply = (net: Net) => {
    const frames = net.drain();
    expect(frames.length).toBeLessThanOrEqual(1);
    if (!frames[0]) return null;
    expect(frames[0].udp).toMatchObject({ srcPort: 67, dstPort: 68 });
    return { ...parseDhcp(frames[0].udp!.payload)!, dstIp: frames[0].ip!.dst, dstMac: macToString(frames[0].dstMac) };
  };
  const SERVER: [number, Uint8Array] = [54, ipBytes(GW_IP)];
  const want = (ip: string): [number, Uint8Array] => [50, ipBytes(parseIp(ip))];

  it('DISCOVER/OFFER/REQUEST/ACK with every option; one log line per lease', () => {
    const net = new Net();
    net.stack.receive(dhcp(VM_MAC, DISCOVER));
    const offer = reply(net)!;
    expect(offer.op).toBe(2);
    expect(offer.type).toBe(OFFER);
    expect(ipToString(offer.yiaddr)).toBe('192.168.127.3');
    expect(offer.xid).toBe(0x1234);
    const o = (c: number) => Array.from(offer.options.get(c) ?? []);
    expect(o(1)).toEqual([255, 255, 255, 0]);
    expect(o(3)).toEqual([192, 168, 127, 1]);
    expect(o(6)).toEqual([192, 168, 127, 1]);
    expect(o(54)).toEqual([192, 168, 127, 1]);
    expect(o(26)).toEqual([0x05, 0xdc]);
    expect(o(51).length).toBe(4);
    net.stack.receive(dhcp(VM_MAC, REQUEST, [SERVER, want('192.168.127.3')]));
    const ack = reply(net)!;
    expect(ack.type).toBe(DHCP_ACK);
    expect(ipToString(ack.yiaddr)).toBe('192.168.127.3');
    expect(net.logs.filter((l) => l.includes('leased'))).toEqual(['DHCP: leased 192.168.127.3 to 02:00:00:00:00:01']);
    // Renewal (unicast, ciaddr set): ACK again, no second log line.
    net.stack.receive(dhcp(VM_MAC, REQUEST, [], VM_IP));
    const renew = reply(net)!;
    expect([renew.type, ipToString(renew.dstIp)]).toEqual([DHCP_ACK, '192.168.127.3']);
    expect(net.logs.filter((l) => l.includes('leased')).length).toBe(1);
  });

  it('NAKs a wrong address, ignores requests for another server', () => {
    const net = new Net();
    net.stack.receive(dhcp(VM_MAC, REQUEST, [want('192.168.127.77')]));
    const nak = reply(net)!;
    expect([nak.type, nak.yiaddr, nak.dstMac]).toEqual([NAK, 0, 'ff:ff:ff:ff:ff:ff']);
    net.stack.receive(dhcp(VM_MAC, REQUEST, [[54, ipBytes(parseIp('192.168.127.99'))], want('192.168.127.3')]));
    expect(reply(net)).toBeNull();
  });

  it('second MAC gets .4; the first keeps .3 after RELEASE and rediscover; INFORM answered without a lease', () => {
    const net = new Net();
    const mac2 = parseMac('02:00:00:00:00:02');
    const lease = (mac: Uint8Array) => {
      net.stack.receive(dhcp(mac, DISCOVER));
      const offer = reply(net)!;
      net.stack.receive(dhcp(mac, REQUEST, [SERVER, [50, ipBytes(offer.yiaddr)]]));
      return ipToString(reply(net)!.yiaddr);
    };
    expect(lease(VM_MAC)).toBe('192.168.127.3');
    expect(lease(mac2)).toBe('192.168.127.4');
    net.stack.receive(dhcp(VM_MAC, RELEASE, [SERVER], VM_IP));
    expect(reply(net)).toBeNull();
    expect(lease(mac2)).toBe('192.168.127.4');
    expect(lease(VM_MAC)).toBe('192.168.127.3');
    net.stack.receive(dhcp(VM_MAC, INFORM, [], VM_IP));
    const inform = reply(net)!;
    expect([inform.type, inform.yiaddr, inform.options.has(51), ipToString(inform.dstIp)]).toEqual([DHCP_ACK, 0, false, '192.168.127.3']);
    expect(Array.from(inform.options.get(3)!)).toEqual([192, 168, 127, 1]);
  });
});
