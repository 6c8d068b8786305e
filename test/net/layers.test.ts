import { describe, expect, it } from 'vitest';
import { arpAnswer, buildArp, parseArp } from '../../src/net/arp.js';
import { dnsRefusal } from '../../src/net/dns.js';
import { macToString, parseEthernet, parseMac, writeEthernetHeader } from '../../src/net/ethernet.js';
import { encodeFrame, FrameDecoder } from '../../src/net/framing.js';
import { buildEchoRequest, buildEchoReply, parseIcmp } from '../../src/net/icmp.js';
import { internetChecksum, ipToString, parseIp, parseIpv4, writeIpv4Header } from '../../src/net/ipv4.js';
import { Ipv4Reassembler } from '../../src/net/ipv4-reassembly.js';
import { PcapWriter } from '../../src/net/pcap.js';
import { ACK, parseTcp, setTcpChecksum, SYN, writeTcpHeader } from '../../src/net/tcp.js';
import { OutOfOrderQueue, SendQueue } from '../../src/net/tcp-buffers.js';
import { parseUdp, writeUdp } from '../../src/net/udp.js';

const hex = (s: string) => new Uint8Array(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

describe('checksum and IPv4', () => {
  it('matches the RFC 1071 worked example and a known IPv4 header', () => {
    expect(internetChecksum(hex('0001 f203 f4f5 f6f7'))).toBe(~0xddf2 & 0xffff);
    // A captured header (checksum b861) from the classic Wikipedia example.
    const header = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(header)).toBe(0);
    const packet = new Uint8Array(0x73);
    packet.set(header);
    const p = parseIpv4(packet)!;
    expect(ipToString(p.src)).toBe('192.168.0.1');
    expect(p.ttl).toBe(64);
    expect(p.protocol).toBe(17);
    expect(p.dontFragment).toBe(true);
  });

  it('writes headers that parse back, and drops bad checksums, versions and lengths', () => {
    const buf = new Uint8Array(30);
    writeIpv4Header(buf, 0, { src: parseIp('10.0.0.1'), dst: parseIp('10.0.0.2'), protocol: 6, payloadLength: 10, id: 42 });
    const p = parseIpv4(buf)!;
    expect([ipToString(p.src), ipToString(p.dst), p.id, p.payload.length, p.ttl, p.dontFragment]).toEqual(['10.0.0.1', '10.0.0.2', 42, 10, 64, true]);
    const padded = new Uint8Array(60);
    padded.set(buf);
    expect(parseIpv4(padded)!.payload.length).toBe(10); // Ethernet padding trimmed
    const bad = buf.slice();
    bad[8] = 1; // TTL changed, checksum not
    expect(parseIpv4(bad)).toBeNull();
    expect(parseIpv4(buf.subarray(0, 19))).toBeNull();
    expect(parseIpv4(buf.subarray(0, 25))).toBeNull(); // total length beyond the bytes
    const v6 = buf.slice();
    v6[0] = 0x65;
    expect(parseIpv4(v6)).toBeNull();
  });

  it('reassembles fragments in any order and drops incomplete or malformed ones', () => {
    let now = 0;
    const r = new Ipv4Reassembler(() => now);
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i * 7);
    const frag = (off: number, len: number, more: boolean, id = 1) => ({
      src: 1, dst: 2, protocol: 17, ttl: 64, id, dontFragment: false, moreFragments: more, fragmentOffset: off,
      headerLength: 20, packet: new Uint8Array(20), payload: data.subarray(off, off + len),
    });
    expect(r.add(frag(1480, 1480, true))).toBeNull();
    expect(r.add(frag(2960, 40, false))).toBeNull();
    expect(r.add(frag(0, 1480, true))).toEqual(data);
    expect(r.pending).toBe(0);
    expect(r.add(frag(0, 1001, true, 2))).toBeNull(); // not a multiple of 8
    expect(r.add(frag(0, 1480, true, 3))).toBeNull();
    now = 60_000;
    expect(r.add(frag(1480, 1520, false, 3))).toBeNull(); // the first part expired
    expect(r.pending).toBe(1);
  });
});

describe('ethernet, ARP', () => {
  it('round-trips Ethernet headers and MACs', () => {
    const f = new Uint8Array(20);
    writeEthernetHeader(f, parseMac('ff:ff:ff:ff:ff:ff'), parseMac('02:00:00:00:00:01'), 0x0806);
    const e = parseEthernet(f)!;
    expect([macToString(e.dst), macToString(e.src), e.etherType, e.payload.length]).toEqual(['ff:ff:ff:ff:ff:ff', '02:00:00:00:00:01', 0x806, 6]);
    expect(parseEthernet(f.subarray(0, 13))).toBeNull();
  });

  it('answers requests and probes for our addresses only', () => {
    const ours = new Set([parseIp('192.168.127.1'), parseIp('192.168.127.252')]);
    const gw = parseMac('5a:94:ef:e4:0c:dd');
    const vm = parseMac('02:11:22:33:44:55');
    const req = parseArp(buildArp({ op: 1, senderMac: vm, senderIp: parseIp('192.168.127.3'), targetMac: new Uint8Array(6), targetIp: parseIp('192.168.127.252') }))!;
    const a = arpAnswer(req, (ip) => ours.has(ip), gw)!;
    expect([a.op, macToString(a.senderMac), ipToString(a.senderIp), macToString(a.targetMac), ipToString(a.targetIp)]).toEqual([
      2, '5a:94:ef:e4:0c:dd', '192.168.127.252', '02:11:22:33:44:55', '192.168.127.3',
    ]);
    const probeOurs = { ...req, senderIp: 0, targetIp: parseIp('192.168.127.1') };
    expect(arpAnswer(probeOurs, (ip) => ours.has(ip), gw)?.targetIp).toBe(0);
    const probeVm = { ...req, senderIp: 0, targetIp: parseIp('192.168.127.3') };
    expect(arpAnswer(probeVm, (ip) => ours.has(ip), gw)).toBeNull();
    expect(parseArp(new Uint8Array(27))).toBeNull();
  });
});

describe('ICMP, UDP, TCP codecs', () => {
  it('echo reply keeps id, sequence and data; bad checksums are refused', () => {
    const req = buildEchoRequest(0x1234, 7, new TextEncoder().encode('ping!'));
    const reply = buildEchoReply(parseIcmp(req)!);
    expect(reply[0]).toBe(0);
    expect(internetChecksum(reply)).toBe(0);
    expect(reply.subarray(4)).toEqual(req.subarray(4));
    req[9] ^= 1;
    expect(parseIcmp(req)).toBeNull();
  });

  it('UDP checksums include the pseudo header; zero means none', () => {
    const src = parseIp('192.168.127.3'), dst = parseIp('192.168.127.1');
    const buf = new Uint8Array(8 + 5);
    writeUdp(buf, 0, src, dst, 1000, 53, new Uint8Array([1, 2, 3, 4, 5]));
    expect(parseUdp(buf, src, dst)).toMatchObject({ srcPort: 1000, dstPort: 53 });
    expect(parseUdp(buf, src, dst + 1)).toBeNull();
    buf[6] = buf[7] = 0;
    expect(parseUdp(buf, src, dst + 1)!.payload).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(parseUdp(buf.subarray(0, 7), src, dst)).toBeNull();
  });

  it('TCP header with MSS and window scale round-trips; checksum verified', () => {
    const src = 1, dst = 2;
    const buf = new Uint8Array(28 + 3);
    const hlen = writeTcpHeader(buf, 0, { srcPort: 80, dstPort: 4000, seq: 0xfffffff0, ack: 5, flags: SYN | ACK, window: 1000, mss: 1460, wscale: 7 });
    expect(hlen).toBe(28);
    buf.set([9, 8, 7], 28);
    setTcpChecksum(buf, 0, buf.length, src, dst);
    const s = parseTcp(buf, src, dst)!;
    expect(s).toMatchObject({ srcPort: 80, dstPort: 4000, seq: 0xfffffff0, ack: 5, flags: SYN | ACK, window: 1000, mss: 1460, wscale: 7 });
    expect(Array.from(s.payload)).toEqual([9, 8, 7]);
    buf[30] ^= 0xff;
    expect(parseTcp(buf, src, dst)).toBeNull();
  });

  it('send queue copies across chunks; out-of-order queue merges and trims', () => {
    const q = new SendQueue();
    q.push(new Uint8Array([1, 2, 3]));
    q.push(new Uint8Array([4, 5]));
    q.push(new Uint8Array([6, 7, 8, 9]));
    q.consume(2);
    const dst = new Uint8Array(5);
    q.copyOut(1, 5, dst, 0);
    expect(Array.from(dst)).toEqual([4, 5, 6, 7, 8]);
    expect(q.length).toBe(7);
    const o = new OutOfOrderQueue();
    o.insert(110, new Uint8Array(10).fill(2), false);
    o.insert(105, new Uint8Array(10).fill(1), false); // overlaps the start of the later one
    o.insert(130, new Uint8Array(0), true);
    o.insert(120, new Uint8Array(10).fill(3), false);
    const t = o.take(100);
    expect(t.data.length).toBe(0); // hole at 100..105
    expect(o.size).toBe(4);
    const u = o.take(105);
    expect(u.fin).toBe(true);
    expect(u.end).toBe(130);
    expect(Array.from(u.data.flatMap((d) => Array.from(d)))).toEqual([...Array(5).fill(1), ...Array(10).fill(2), ...Array(10).fill(3)]);
  });
});

describe('DNS refusal', () => {
  it('refuses queries at once, echoing id and question', () => {
    const q = hex('abcd 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001');
    const r = dnsRefusal(q)!;
    const v = new DataView(r.buffer);
    expect(v.getUint16(0)).toBe(0xabcd);
    expect(v.getUint16(2)).toBe(0x8105); // QR, RD, REFUSED
    expect(v.getUint16(4)).toBe(1);
    expect(r.subarray(12)).toEqual(q.subarray(12));
    expect(dnsRefusal(r)).toBeNull(); // responses are never answered
    expect(new DataView(dnsRefusal(q.subarray(0, 15))!.buffer).getUint16(2) & 0xf).toBe(1); // FORMERR
  });
});

describe('framing', () => {
  it('decodes frames from any chunking', () => {
    const frames = [new Uint8Array(60).fill(1), new Uint8Array(1514).fill(2), new Uint8Array(42).fill(3)];
    const stream = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
    let o = 0;
    for (const f of frames) stream.set(encodeFrame(f), (o += 4 + f.length) - 4 - f.length);
    for (const size of [1, 3, 4, 5, 61, 1000, stream.length]) {
      const d = new FrameDecoder();
      const got: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) got.push(...d.push(stream.subarray(i, i + size)));
      expect(got).toEqual(frames);
      expect(d.pendingBytes).toBe(0);
    }
  });

  it('reports a zero or huge length as an unrecoverable error', () => {
    const d = new FrameDecoder();
    expect(d.push(new Uint8Array([0, 0, 0, 2, 9, 9, 0, 0, 0, 0, 1, 2]))).toEqual([new Uint8Array([9, 9])]);
    expect(d.error).toMatch(/bad frame length 0/);
    expect(d.push(encodeFrame(new Uint8Array(10)))).toEqual([]);
    const big = new FrameDecoder();
    big.push(new Uint8Array([0, 1, 0, 0]));
    expect(big.error).toMatch(/65536/);
  });
});

describe('pcap', () => {
  it('writes a libpcap header and records', () => {
    const w = new PcapWriter();
    const h = new DataView(w.header().buffer);
    expect([h.getUint32(0, true), h.getUint16(4, true), h.getUint16(6, true), h.getUint32(16, true), h.getUint32(20, true)]).toEqual([0xa1b2c3d4, 2, 4, 65535, 1]);
    const rec = w.record(new Uint8Array([1, 2, 3]), 1_700_000_000_123.5);
    const r = new DataView(rec.buffer);
    expect([r.getUint32(0, true), r.getUint32(4, true), r.getUint32(8, true), r.getUint32(12, true)]).toEqual([1_700_000_000, 123_500, 3, 3]);
    expect(Array.from(rec.subarray(16))).toEqual([1, 2, 3]);
  });
});
