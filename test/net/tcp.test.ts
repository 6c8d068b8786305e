import { describe, expect, it } from 'vitest';
import { ACK, FIN, PSH, RST, SYN, seqAdd, type TcpSegment } from '../../src/net/tcp.js';
import type { TcpConnection } from '../../src/net/tcp-connection.js';
import { Net } from './helpers.js';
import { TestPeer } from './peer.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};

/** A connected peer plus the server side, collecting what the app receives. */
function connected(o: { wscale?: number; window?: number; mss?: number; port?: number; net?: Net } = {}) {
  const net = o.net ?? new Net();
  const peer = new TestPeer(net, o.port ?? 40000);
  const synAck = peer.handshake({ wscale: o.wscale ?? 7, window: o.window ?? 65535, mss: o.mss });
  const conn = net.conns.at(-1)!;
  const got: Uint8Array[] = [];
  const events: string[] = [];
  conn.onData = (b) => got.push(b.slice());
  conn.onClose = () => events.push('close');
  conn.onDrain = () => events.push('drain');
  return { net, peer, conn, got, events, synAck };
}

const dataOf = (segs: TcpSegment[]) => concat(segs.map((s) => s.payload));

describe('TCP handshake', () => {
  it('answers SYN with MSS and window scale, reports the connection after the ACK', () => {
    const net = new Net();
    const peer = new TestPeer(net, 43210);
    peer.send(SYN, undefined, { mss: 1400, wscale: 7 });
    const [synAck] = peer.segments();
    expect(synAck).toMatchObject({ flags: SYN | ACK, ack: 5001, mss: 1460, seq: 100_000 });
    expect(synAck!.wscale).toBeGreaterThan(0);
    expect(net.conns.length).toBe(0);
    peer.send(SYN, undefined, { seq: 5000, mss: 1400, wscale: 7 }); // retransmitted SYN: same SYN-ACK
    expect(peer.segments()).toMatchObject([{ flags: SYN | ACK, seq: 100_000 }]);
    peer.ack = 100_001;
    peer.send(ACK);
    expect(net.conns.map((c) => c.remote)).toEqual(['192.168.127.3:43210']);
    expect(net.logs).toContain('TCP: 192.168.127.3:43210 connected to 192.168.127.252:80');
  });

  it('does not offer window scaling or timestamps the peer did not offer', () => {
    const net = new Net();
    const peer = new TestPeer(net);
    peer.send(SYN, undefined, { mss: 536 });
    const [synAck] = peer.segments();
    expect(synAck!.wscale).toBeUndefined();
    expect(synAck!.window).toBeLessThanOrEqual(65535);
  });

  it('retransmits a lost SYN-ACK, then gives up', () => {
    const net = new Net();
    const peer = new TestPeer(net);
    peer.send(SYN, undefined, { mss: 1460 });
    expect(peer.segments().length).toBe(1);
    net.clock.advance(1000);
    expect(peer.segments()).toMatchObject([{ flags: SYN | ACK }]);
    net.clock.advance(2000);
    expect(peer.segments()).toMatchObject([{ flags: SYN | ACK }]);
    net.clock.advance(200_000);
    expect(net.stack.tcpConnectionCount).toBe(0);
  });
});

describe('TCP data transfer', () => {
  it('sends bulk data with many segments in flight, split at the peer MSS', () => {
    const { peer, conn, net } = connected({ wscale: 7, window: 4096, mss: 1000 }); // 4096<<7 = 512 KiB
    const payload = bytes(100_000);
    expect(conn.write(payload)).toBe(true);
    let segs = peer.segments();
    expect(segs.length).toBe(10); // initial congestion window: 10 segments before any ACK
    expect(segs.every((s) => s.payload.length === 1000)).toBe(true);
    const received = [dataOf(segs)];
    let maxInFlight = segs.length;
    while (received.reduce((n, r) => n + r.length, 0) < payload.length) {
      const last = segs.at(-1)!;
      peer.ack = seqAdd(last.seq, last.payload.length);
      peer.send(ACK, undefined, { window: 4096 });
      segs = peer.segments();
      maxInFlight = Math.max(maxInFlight, segs.length);
      if (segs.length === 0) throw new Error('stalled');
      received.push(dataOf(segs));
    }
    expect(concat(received)).toEqual(payload);
    expect(maxInFlight).toBeGreaterThan(20); // slow start opened the window
    expect(segs.at(-1)!.flags & PSH).toBeTruthy();
    expect(net.clock.pending).toBeGreaterThan(0);
  });

  it('receives many segments in flight, delivers in order, ACKs every second segment or after a delay', () => {
    const { peer, got } = connected();
    const payload = bytes(1460 * 40);
    for (let i = 0; i < 40; i++) peer.send(ACK | PSH, payload.subarray(i * 1460, (i + 1) * 1460));
    expect(concat(got)).toEqual(payload);
    const acks = peer.segments();
    expect(acks.length).toBe(20);
    expect(acks.at(-1)!.ack).toBe(peer.seq);
    peer.send(ACK, bytes(10));
    expect(peer.segments()).toEqual([]);
    peer.net.clock.advance(20);
    expect(peer.segments()).toMatchObject([{ ack: peer.seq }]);
  });

  it('buffers out-of-order segments and delivers them once the hole fills', () => {
    const { peer, got } = connected();
    const a = bytes(1000, 1), b = bytes(1000, 2), c = bytes(1000, 3);
    const base = peer.seq;
    peer.send(ACK, c, { seq: seqAdd(base, 2000) });
    peer.send(ACK, b, { seq: seqAdd(base, 1000) });
    expect(got).toEqual([]);
    const dups = peer.segments();
    expect(dups.map((s) => s.ack)).toEqual([base, base]); // immediate duplicate ACKs
    peer.send(ACK, a, { seq: base });
    peer.seq = seqAdd(base, 3000);
    expect(concat(got)).toEqual(concat([a, b, c]));
    expect(peer.segments().at(-1)!.ack).toBe(seqAdd(base, 3000));
    // A duplicate of old data is acknowledged, not delivered again.
    peer.send(ACK, a, { seq: base });
    expect(concat(got).length).toBe(3000);
    expect(peer.segments()).toMatchObject([{ ack: seqAdd(base, 3000) }]);
  });
});

describe('TCP loss recovery', () => {
  it('retransmits on RTO with exponential backoff, then aborts with RST', () => {
    const { peer, conn, net, events } = connected();
    conn.write(bytes(500));
    const [first] = peer.segments();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = net.clock.now();
      while (peer.segments().length === 0) net.clock.advance(10);
      times.push(net.clock.now() - start);
    }
    expect(times[0]).toBe(50); // the handshake gave an RTT sample of 0: RTO at its (virtual-wire) floor
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]! * 2 - 20);
    net.clock.advance(3_600_000);
    const rst = peer.segments().find((s) => s.flags & RST);
    expect(rst).toBeDefined();
    expect(events).toEqual(['close']);
    expect(net.stack.tcpConnectionCount).toBe(0);
    expect(first!.payload.length).toBe(500);
  });

  it('fast-retransmits after three duplicate ACKs, before the RTO', () => {
    const { peer, conn } = connected({ mss: 1000 });
    conn.write(bytes(30_000));
    const segs = peer.segments();
    expect(segs.length).toBe(10);
    const lostSeq = segs[1]!.seq;
    peer.ack = lostSeq;
    peer.send(ACK); // acks segment 0 (new data)
    expect(peer.segments().length).toBeGreaterThan(0); // window slid
    for (let i = 0; i < 3; i++) peer.send(ACK);
    const after = peer.segments();
    expect(after.some((s) => s.seq === lostSeq && s.payload.length === 1000)).toBe(true);
  });

  for (const floor of [50, 200]) {
    it(`RTT samples shrink the RTO towards the minRtoMs floor (${floor} ms)`, () => {
      const { peer, conn, net } = connected({ net: new Net(floor === 50 ? {} : { tcp: { minRtoMs: floor } }) });
      for (let i = 0; i < 10; i++) {
        conn.write(bytes(100));
        const [s] = peer.segments();
        net.clock.advance(5);
        peer.ack = seqAdd(s!.seq, 100);
        peer.send(ACK);
      }
      conn.write(bytes(100));
      peer.segments();
      net.clock.advance(floor - 1);
      expect(peer.segments()).toEqual([]);
      net.clock.advance(2);
      expect(peer.segments().length).toBe(1);
    });
  }
});

describe('TCP flow control', () => {
  it('stops at a zero window, probes it, and resumes when it opens', () => {
    const { peer, conn, net } = connected({ window: 0 });
    conn.write(bytes(3000));
    expect(peer.segments()).toEqual([]);
    const probeTimes: number[] = [];
    for (let t = 0; t < 20_000; t += 10) {
      net.clock.advance(10);
      for (const probe of peer.segments()) {
        expect(probe).toMatchObject({ flags: ACK, seq: seqAdd(peer.ack, -1) });
        expect(probe.payload.length).toBe(0);
        probeTimes.push(net.clock.now());
        peer.send(ACK, undefined, { window: 0 }); // still closed
      }
    }
    expect(probeTimes.length).toBeGreaterThanOrEqual(5);
    const gaps = probeTimes.slice(1).map((t, i) => t - probeTimes[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]!); // backing off
    expect(net.stack.tcpConnectionCount).toBe(1); // an answering peer is never timed out
    peer.send(ACK, undefined, { window: 100 }); // 100 << 7
    expect(dataOf(peer.segments())).toEqual(bytes(3000));
  });

  it('write() returns false past the high-water mark and onDrain follows the ACKs; nothing dropped', () => {
    const { peer, conn, events } = connected({ window: 65535 });
    const chunks: Uint8Array[] = [];
    let i = 0;
    for (; i < 100; i++) {
      chunks.push(bytes(16_384, i));
      if (!conn.write(chunks.at(-1)!)) break;
    }
    expect(i).toBeLessThan(100);
    expect(events).toEqual([]);
    const received: Uint8Array[] = [];
    const total = chunks.reduce((n, c) => n + c.length, 0);
    while (received.reduce((n, r) => n + r.length, 0) < total) {
      const segs = peer.segments();
      received.push(dataOf(segs));
      const last = segs.at(-1)!;
      peer.ack = seqAdd(last.seq, last.payload.length);
      peer.send(ACK);
    }
    expect(events).toEqual(['drain']);
    expect(concat(received)).toEqual(concat(chunks));
  });

  it('setReceiving(false) closes the receive window without losing data', () => {
    const { peer, conn, got, synAck, net } = connected();
    const shift = synAck.wscale!;
    conn.setReceiving(false);
    const sent: Uint8Array[] = [];
    let right = seqAdd(peer.seq, synAck.window); // the SYN-ACK window is unscaled
    for (let i = 0; right !== peer.seq && i < 1000; i++) {
      const chunk = bytes(Math.min(1460, (right - peer.seq) >>> 0), i);
      peer.send(ACK, chunk);
      sent.push(chunk);
      net.clock.advance(50);
      const acks = peer.segments();
      const last = acks.at(-1);
      if (last) {
        expect(seqAdd(last.ack, last.window << shift) >>> 0).toBeGreaterThanOrEqual(right >>> 0); // never shrinks
        right = seqAdd(last.ack, last.window << shift);
      }
    }
    expect(right).toBe(peer.seq);
    expect(got).toEqual([]);
    const total = sent.reduce((n, s) => n + s.length, 0);
    expect(total).toBeGreaterThanOrEqual(200_000);
    // Beyond the window: not accepted, ACKed with the closed window.
    peer.send(ACK, bytes(100), { seq: peer.seq });
    expect(peer.segments()).toMatchObject([{ window: 0 }]);
    conn.setReceiving(true);
    expect(concat(got)).toEqual(concat(sent));
    const [update] = peer.segments();
    expect(update!.window << shift).toBeGreaterThan(100_000);
  });
});

describe('TCP teardown', () => {
  it('peer FIN → onClose after its data; our close sends FIN after queued data; LAST_ACK → gone', () => {
    const { peer, conn, got, events, net } = connected();
    peer.send(ACK | FIN, bytes(10));
    expect(got.length).toBe(1);
    expect(events).toEqual(['close']);
    expect(peer.segments().at(-1)).toMatchObject({ ack: peer.seq });
    conn.write(bytes(20));
    conn.close();
    const segs = peer.segments();
    expect(dataOf(segs)).toEqual(bytes(20));
    expect(segs.at(-1)!.flags & FIN).toBeTruthy();
    peer.ack = seqAdd(segs.at(-1)!.seq, segs.at(-1)!.payload.length + 1);
    peer.send(ACK);
    expect(net.stack.tcpConnectionCount).toBe(0);
    expect(events).toEqual(['close']);
  });

  it('our close first: FIN_WAIT, peer FIN, TIME_WAIT expires; the port can be reused at once', () => {
    const { peer, conn, events, net } = connected();
    conn.close();
    const [fin] = peer.segments();
    expect(fin!.flags).toBe(ACK | FIN);
    peer.ack = seqAdd(fin!.seq, 1);
    peer.send(ACK);
    peer.send(ACK, bytes(5)); // half-closed: the peer may still send
    peer.send(ACK | FIN);
    expect(events).toEqual(['close']);
    expect(peer.segments().at(-1)).toMatchObject({ ack: peer.seq });
    expect(net.stack.tcpConnectionCount).toBe(1); // TIME_WAIT
    const again = new TestPeer(net, 40000, 900_000);
    again.handshake({ wscale: 7 });
    expect(net.conns.length).toBe(2);
    net.clock.advance(60_000);
    expect(net.stack.tcpConnectionCount).toBe(1);
  });

  it('RST with the exact sequence resets; an in-window guess gets a challenge ACK', () => {
    const { peer, events, net } = connected();
    peer.send(RST, undefined, { seq: seqAdd(peer.seq, 100) });
    expect(events).toEqual([]);
    expect(peer.segments()).toMatchObject([{ flags: ACK, ack: peer.seq }]);
    peer.send(RST);
    expect(events).toEqual(['close']);
    expect(net.stack.tcpConnectionCount).toBe(0);
    peer.send(ACK, bytes(3));
    expect(peer.segments()).toMatchObject([{ flags: RST }]);
  });

  it('a SYN on an established connection gets a challenge ACK', () => {
    const { peer, net } = connected();
    peer.send(SYN, undefined, { seq: 1 });
    expect(peer.segments()).toMatchObject([{ flags: ACK, ack: peer.seq }]);
    expect(net.stack.tcpConnectionCount).toBe(1);
  });
});

describe('TCP concurrency', () => {
  it('serves several connections independently', () => {
    const net = new Net({
      onTcpConnection: (c: TcpConnection) => {
        c.onData = (b) => c.write(b); // echo
      },
    });
    const peers = [40001, 40002, 40003].map((port) => {
      const p = new TestPeer(net, port, port * 10);
      p.handshake({ wscale: 7 });
      return p;
    });
    for (let round = 0; round < 3; round++) {
      for (const [i, p] of peers.entries()) p.send(ACK | PSH, bytes(100 + i, round));
    }
    for (const [i, p] of peers.entries()) {
      const segs = p.segments();
      expect(dataOf(segs)).toEqual(concat([0, 1, 2].map((r) => bytes(100 + i, r))));
    }
    expect(net.stack.tcpConnectionCount).toBe(3);
  });
});
