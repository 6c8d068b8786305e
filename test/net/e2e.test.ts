import { describe, expect, it } from 'vitest';
import { attachLink, encodeFrame, FrameDecoder, frameLinkOverBytes, NetStack, type TcpConnection } from '../../src/net/index.js';
import { buildDhcp, DISCOVER, ipBytes, OFFER, parseDhcp, REQUEST, ACK as DHCP_ACK } from '../../src/net/dhcp.js';
import { ipToString } from '../../src/net/ipv4.js';
import { macToString } from '../../src/net/ethernet.js';
import { arpFrame, BCAST_MAC, decode, FakeClock, GW_IP, P9_IP, udpFrame, VM_IP, VM_MAC } from './helpers.js';
import { AutoClient } from './peer.js';
import { rng } from './helpers.js';

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
const pattern = (n: number, seed: number) => {
  const out = new Uint8Array(n);
  const r = rng(seed);
  for (let i = 0; i < n; i += 4) new DataView(out.buffer).setUint32(i, (r() * 2 ** 32) >>> 0);
  return out;
};

describe('end to end over the framed byte stream', () => {
  it('DHCP, ARP, then a TCP echo of 1 MiB and a clean close', () => {
    const clock = new FakeClock();
    const random = rng(7);
    const echoes: TcpConnection[] = [];
    const stack = new NetStack({
      clock,
      onTcpConnection: (c) => {
        echoes.push(c);
        c.onData = (b) => c.write(b);
        c.onClose = () => c.close();
      },
    });
    // The VM end: frames go out as a QEMU stream cut into random chunks, 1 ms later.
    const vmDecoder = new FrameDecoder();
    const fromVm = frameLinkOverBytes(
      (bytes) => clock.setTimeout(() => vmFrames(vmDecoder.push(bytes)), 1),
      () => {},
    );
    attachLink(stack, fromVm.link);
    const vmSend = (frame: Uint8Array) => {
      const bytes = encodeFrame(frame);
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(random() * 700);
        const chunk = bytes.slice(i, i + n);
        clock.setTimeout(() => fromVm.receive(chunk), 1);
        i += n;
      }
    };
    let leased = '';
    let gatewayMac = '';
    const client = new AutoClient(clock, vmSend, { port: 50000 });
    const vmFrames = (frames: Uint8Array[]) => {
      for (const f of frames) {
        const d = decode(f);
        if (d.udp?.dstPort === 68) {
          const m = parseDhcp(d.udp.payload)!;
          if (m.type === OFFER) vmSend(dhcp(REQUEST, [[54, ipBytes(GW_IP)], [50, ipBytes(m.yiaddr)]]));
          if (m.type === DHCP_ACK) leased = ipToString(m.yiaddr);
        } else if (d.arp) gatewayMac = macToString(d.arp.senderMac);
        else client.input(f);
      }
    };
    const dhcp = (type: number, opts: [number, Uint8Array][] = []) =>
      udpFrame(0, 68, 0xffffffff, 67, buildDhcp({ op: 1, xid: 9, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, type, opts), { dstMac: BCAST_MAC });
    vmSend(dhcp(DISCOVER));
    clock.advance(10);
    expect(leased).toBe('192.168.127.3');
    vmSend(arpFrame({ op: 1, senderMac: VM_MAC, senderIp: VM_IP, targetMac: new Uint8Array(6), targetIp: P9_IP }));
    clock.advance(10);
    expect(gatewayMac).toBe('5a:94:ef:e4:0c:dd');

    const payload = pattern(1 << 20, 1);
    client.connect();
    client.write(payload);
    for (let t = 0; t < 60_000 && client.receivedBytes < payload.length; t++) {
      clock.advance(1);
      client.tick();
    }
    expect(same(client.data(), payload)).toBe(true);
    client.close();
    for (let t = 0; t < 5_000 && !client.finReceived; t++) {
      clock.advance(1);
      client.tick();
    }
    expect(client.finReceived).toBe(true);
    expect(fromVm.link).toBeDefined();
    clock.advance(100);
    expect(stack.tcpConnectionCount).toBe(0); // LAST_ACK done
    expect(echoes.length).toBe(1);
  });
});

describe('lossy link', () => {
  it('moves 8 MiB each way intact through 5% loss and reordering', () => {
    const seed = Number(process.env.NET_SEED ?? Math.floor(Math.random() * 1e9));
    console.log(`lossy link seed ${seed} (NET_SEED=${seed} to replay)`);
    const random = rng(seed);
    const clock = new FakeClock();
    const SIZE = 8 << 20;
    const up = pattern(SIZE, seed + 1);
    const down = pattern(SIZE, seed + 2);
    const serverGot: Uint8Array[] = [];
    let serverBytes = 0;
    const stack = new NetStack({
      clock,
      random: () => (random() * 2 ** 32) >>> 0,
      onTcpConnection: (c) => {
        c.onData = (b) => {
          serverGot.push(b);
          serverBytes += b.length;
        };
        // Honour backpressure: write until refused, continue on drain.
        let off = 0;
        const more = () => {
          while (off < SIZE) {
            const chunk = down.subarray(off, Math.min(SIZE, off + 65536));
            off += chunk.length;
            if (!c.write(chunk)) return;
          }
        };
        c.onDrain = more;
        more();
      },
    });
    // The wire: each frame is dropped with p=0.05 or delayed 1–8 ms, which reorders.
    const queue: { at: number; frame: Uint8Array; to: (f: Uint8Array) => void }[] = [];
    let dropped = 0;
    const wire = (to: (f: Uint8Array) => void) => (frame: Uint8Array) => {
      if (random() < 0.05) return void dropped++;
      queue.push({ at: clock.now() + 1 + Math.floor(random() * 8), frame, to });
    };
    const client = new AutoClient(clock, wire((f) => stack.receive(f)), { port: 50001 });
    stack.send = wire((f) => client.input(f));
    client.connect();
    client.write(up);
    const started = Date.now();
    let steps = 0;
    for (; steps < 3_000_000 && (client.receivedBytes < SIZE || serverBytes < SIZE); steps++) {
      clock.advance(1);
      const due = queue.filter((q) => q.at <= clock.now());
      if (due.length) {
        for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.at <= clock.now()) queue.splice(i, 1);
        // Same-millisecond frames leave in random order.
        for (let i = due.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [due[i], due[j]] = [due[j]!, due[i]!];
        }
        for (const q of due) q.to(q.frame);
      }
      client.tick();
      if (Date.now() - started > 50_000) break;
    }
    console.log(`lossy link: ${clock.now()} ms simulated, ${dropped} frames dropped, ${Date.now() - started} ms real`);
    const got = new Uint8Array(serverBytes);
    let o = 0;
    for (const c of serverGot) got.set(c, (o += c.length) - c.length);
    expect(serverBytes).toBe(SIZE);
    expect(same(got, up)).toBe(true);
    expect(client.receivedBytes).toBe(SIZE);
    expect(same(client.data(), down)).toBe(true);
  }, 120_000);
});

/**
 * One-way bulk download (server → VM) over a wire that drops `loss` of the frames each
 * way and delays the rest 1–8 ms; the VM ACKs like a Linux guest behind QEMU with GRO
 * (one ACK per millisecond of arrivals). Returns the simulated ms until the VM has it all.
 */
function lossyDownload(o: { seed: number; size: number; loss: number; sack: boolean; minRtoMs?: number }): { ms: number; dropped: number } {
  const random = rng(o.seed);
  const clock = new FakeClock();
  const down = pattern(o.size, o.seed + 2);
  const stack = new NetStack({
    clock,
    random: () => (random() * 2 ** 32) >>> 0,
    tcp: o.minRtoMs === undefined ? undefined : { minRtoMs: o.minRtoMs },
    onTcpConnection: (c) => {
      let off = 0;
      const more = () => {
        while (off < o.size) {
          const chunk = down.subarray(off, Math.min(o.size, off + 65536));
          off += chunk.length;
          if (!c.write(chunk)) return;
        }
      };
      c.onDrain = more;
      more();
    },
  });
  const queue: { at: number; frame: Uint8Array; to: (f: Uint8Array) => void }[] = [];
  let dropped = 0;
  const wire = (to: (f: Uint8Array) => void) => (frame: Uint8Array) => {
    if (random() < o.loss) return void dropped++;
    queue.push({ at: clock.now() + 1 + Math.floor(random() * 8), frame, to });
  };
  const client = new AutoClient(clock, wire((f) => stack.receive(f)), { port: 50002, sack: o.sack, coalesceAcks: true });
  stack.send = wire((f) => client.input(f));
  client.connect();
  for (let steps = 0; steps < 3_000_000 && client.receivedBytes < o.size; steps++) {
    clock.advance(1);
    let due = 0;
    for (const q of queue) if (q.at <= clock.now()) due++;
    if (due) {
      const now = queue.filter((q) => q.at <= clock.now());
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.at <= clock.now()) queue.splice(i, 1);
      for (let i = now.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [now[i], now[j]] = [now[j]!, now[i]!];
      }
      for (const q of now) q.to(q.frame);
    }
    client.tick();
  }
  expect(client.receivedBytes).toBe(o.size);
  expect(same(client.data(), down)).toBe(true);
  return { ms: clock.now(), dropped };
}

describe('lossy link: SACK recovery', () => {
  it('8 MiB at 5% loss: SACK + 50 ms RTO floor beats NewReno + 200 ms in simulated time', () => {
    const base = { seed: Number(process.env.NET_SEED ?? 20240611), size: 8 << 20, loss: 0.05 };
    const before = lossyDownload({ ...base, sack: false, minRtoMs: 200 });
    const noSack = lossyDownload({ ...base, sack: false });
    const after = lossyDownload({ ...base, sack: true });
    console.log(
      `lossy download 8 MiB @5%: NewReno+200ms floor ${before.ms} ms (${before.dropped} dropped), ` +
        `NewReno+50ms ${noSack.ms} ms (${noSack.dropped}), SACK+50ms ${after.ms} ms (${after.dropped}) simulated`,
    );
    expect(after.ms).toBeLessThan(before.ms / 2);
    expect(after.ms).toBeLessThan(noSack.ms);
  }, 120_000);
});
