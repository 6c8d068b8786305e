// Seeded fuzzing of every input path: random and mutated frames (with and without
// repaired checksums, so mutations reach the deeper parsers), truncations, and framing
// streams with absurd lengths. Nothing may throw, hang or log an internal error, and a
// TCP session opened before the storm must still carry data afterwards.
import { describe, expect, it } from 'vitest';
import { buildDhcp, DISCOVER, REQUEST, ipBytes } from '../../src/net/dhcp.js';
import { encodeFrame, FrameDecoder } from '../../src/net/framing.js';
import { buildEchoRequest } from '../../src/net/icmp.js';
import { finishChecksum, internetChecksum, onesSum, pseudoHeaderSum, PROTO_ICMP } from '../../src/net/ipv4.js';
import { ACK, FIN, PSH, RST, SYN } from '../../src/net/tcp.js';
import { NetStack, type TcpConnection } from '../../src/net/index.js';
import { rng, arpFrame, BCAST_MAC, FakeClock, GW_IP, ipFrame, P9_IP, PROXY_IP, tcpFrame, udpFrame, VM_IP, VM_MAC } from './helpers.js';
import { AutoClient } from './peer.js';

const COUNT = 30_000;

/** Recomputes the IPv4 and transport checksums of a (possibly mangled) frame, if it can. */
function repair(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0) return;
  const ihl = (f[14]! & 0xf) * 4;
  if (ihl < 20 || 14 + ihl > f.length) return;
  f[24] = f[25] = 0;
  const hs = internetChecksum(f.subarray(14, 14 + ihl));
  f[24] = hs >> 8;
  f[25] = hs & 0xff;
  const total = Math.min(f.length - 14, (f[16]! << 8) | f[17]!);
  if (total < ihl) return;
  const seg = f.subarray(14 + ihl, 14 + total);
  const proto = f[23]!;
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 ? 2 : -1;
  if (at < 0 || seg.length < at + 2) return;
  seg[at] = seg[at + 1] = 0;
  const v = new DataView(f.buffer, f.byteOffset);
  const sum = proto === 1 ? internetChecksum(seg) : finishChecksum(onesSum(seg, pseudoHeaderSum(v.getUint32(26), v.getUint32(30), proto, seg.length)));
  seg[at] = sum >> 8;
  seg[at + 1] = sum & 0xff;
}

describe('fuzz', () => {
  it('survives random and mutated frames; an established session keeps working', () => {
    const seed = Number(process.env.NET_SEED ?? Math.floor(Math.random() * 1e9));
    console.log(`fuzz seed ${seed} (NET_SEED=${seed} to replay)`);
    const r = rng(seed);
    const int = (n: number) => Math.floor(r() * n);
    const clock = new FakeClock();
    const warnings: string[] = [];
    const conns: TcpConnection[] = [];
    const stack = new NetStack({
      clock,
      logger: { warn: (m) => warnings.push(m) },
      onTcpConnection: (c) => {
        conns.push(c);
        c.onData = (b) => c.write(b); // echo
      },
    });
    let client: AutoClient | undefined;
    stack.send = (f) => client?.input(f);
    client = new AutoClient(clock, (f) => stack.receive(f), { port: 61000 });
    client.connect();
    client.write(new Uint8Array(5000).fill(1));
    for (let t = 0; t < 1000 && client.receivedBytes < 5000; t++) clock.advance(1), client.tick();
    expect(client.receivedBytes).toBe(5000);

    const seeds: (() => Uint8Array)[] = [
      () => arpFrame({ op: 1 + int(2), senderMac: VM_MAC, senderIp: VM_IP, targetMac: new Uint8Array(6), targetIp: [GW_IP, P9_IP, VM_IP][int(3)]! }),
      () => ipFrame(VM_IP, [GW_IP, P9_IP, 0xffffffff][int(3)]!, PROTO_ICMP, buildEchoRequest(int(65536), int(65536), new Uint8Array(int(200)))),
      () => udpFrame(VM_IP, 68, 0xffffffff, 67, buildDhcp({ op: 1, xid: int(2 ** 32), secs: 0, flags: int(2) << 15, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: new Uint8Array([2, 0, 0, 0, 1, int(256)]) }, [DISCOVER, REQUEST, 7, 8, 4, 99][int(6)]!, [[50, ipBytes(VM_IP + int(3))], [54, ipBytes(GW_IP)]]), { dstMac: BCAST_MAC }),
      () => udpFrame(VM_IP, 1000 + int(1000), GW_IP, [53, 67, 123][int(3)]!, new Uint8Array(int(600)).map(() => int(256))),
      () => tcpFrame(VM_IP, [P9_IP, PROXY_IP, GW_IP][int(3)]!, { srcPort: 1024 + int(60000), dstPort: [80, 443, 22][int(3)]!, seq: int(2 ** 32), ack: int(2 ** 32), flags: [SYN, ACK, ACK | PSH, FIN | ACK, RST, int(256)][int(6)]!, window: int(65536), mss: r() < 0.5 ? int(65536) : undefined, wscale: r() < 0.5 ? int(256) : undefined }, new Uint8Array(int(1500)).map(() => int(256))),
    ];
    const started = Date.now();
    let n = 0;
    for (; n < COUNT && Date.now() - started < 20_000; n++) {
      let f: Uint8Array;
      const kind = r();
      if (kind < 0.1) f = new Uint8Array(int(1600)).map(() => int(256)); // noise
      else {
        f = seeds[int(seeds.length)]!();
        const flips = 1 + int(8);
        for (let i = 0; i < flips; i++) f[int(f.length)] = int(256);
        if (r() < 0.5) repair(f);
        if (r() < 0.2) f = f.subarray(0, int(f.length + 1)); // truncated
        // Keep valid checksums off the live session's tuple: a correct RST there is legal.
        if (f.length >= 38 && f[23] === 6 && ((f[34]! << 8) | f[35]!) === 61000) f[40] ^= 0x55;
      }
      stack.receive(f);
      if (n % 100 === 0) {
        clock.advance(50);
        client.tick();
      }
    }
    console.log(`fuzz: ${n} frames in ${Date.now() - started} ms`);
    expect(warnings).toEqual([]);
    client.write(new Uint8Array(20_000).fill(2));
    for (let t = 0; t < 20_000 && client.receivedBytes < 25_000; t++) clock.advance(1), client.tick();
    expect(client.receivedBytes).toBe(25_000);
    expect(client.reset).toBe(false);
    clock.advance(600_000); // all timers fire and settle without error
    expect(warnings).toEqual([]);
  }, 60_000);

  it('the frame decoder survives arbitrary streams and reports huge lengths', () => {
    const seed = Number(process.env.NET_SEED ?? Math.floor(Math.random() * 1e9));
    console.log(`framing fuzz seed ${seed}`);
    const r = rng(seed);
    for (let run = 0; run < 300; run++) {
      const d = new FrameDecoder();
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        if (r() < 0.8) parts.push(encodeFrame(new Uint8Array(1 + Math.floor(r() * 2000))));
        else parts.push(new Uint8Array(Math.floor(r() * 10)).map(() => Math.floor(r() * 256)));
      }
      parts.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      let frames = 0;
      for (const p of parts) for (let o = 0; o < p.length; o += 1 + Math.floor(r() * 300)) frames += d.push(p.subarray(o, o + 1 + Math.floor(r() * 300))).length;
      expect(d.error ?? 'stuck-in-frame').toBeTruthy();
      expect(frames).toBeGreaterThanOrEqual(0);
    }
  });
});
