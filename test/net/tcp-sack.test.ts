// SACK (RFC 2018) and SACK-based loss recovery (RFC 6675), driven segment by segment.
import { describe, expect, it } from 'vitest';
import { SackScoreboard } from '../../src/net/tcp-sack.js';
import { ACK, parseTcp, setTcpChecksum, SYN, type TcpSegment } from '../../src/net/tcp.js';
import { decode, Net, P9_IP, tcpFrame, VM_IP } from './helpers.js';
import { TestPeer } from './peer.js';

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

/** A connection to a peer with MSS 1000 that offered SACK (unless told not to); 10 segments in flight. */
function sending(o: { sackOk?: boolean; net?: Net } = {}) {
  const net = o.net ?? new Net();
  const peer = new TestPeer(net);
  const synAck = peer.handshake({ mss: 1000, wscale: 7, sackOk: o.sackOk ?? true });
  const conn = net.conns.at(-1)!;
  conn.write(bytes(40_000));
  const segs = peer.segments();
  expect(segs.length).toBe(10);
  const s = (i: number) => segs[0]!.seq + i * 1000; // start of segment i
  return { net, peer, conn, synAck, segs, s };
}

const block = (start: number, end: number) => ({ start: start >>> 0, end: end >>> 0 });
/** Sequence numbers of the data segments among `segs`. */
const starts = (segs: TcpSegment[]) => segs.filter((x) => x.payload.length > 0).map((x) => x.seq);

describe('TCP SACK option', () => {
  it('accepts SACK-permitted in the SYN-ACK only when the SYN offered it', () => {
    expect(sending().synAck.sackOk).toBe(true);
    expect(sending({ sackOk: false }).synAck.sackOk).toBeUndefined();
  });

  it('round-trips SACK blocks and skips malformed ones', () => {
    const f = tcpFrame(VM_IP, P9_IP, { srcPort: 1, dstPort: 2, seq: 1, ack: 2, flags: ACK, window: 9, sack: [block(10, 20), block(0xfffffff0, 5)] });
    expect(decode(f).tcp!.sack).toEqual([block(10, 20), block(0xfffffff0, 5)]);
    const syn = tcpFrame(VM_IP, P9_IP, { srcPort: 1, dstPort: 2, seq: 1, ack: 0, flags: SYN, window: 9, mss: 1460, wscale: 7, sackOk: true });
    expect(decode(syn).tcp).toMatchObject({ mss: 1460, wscale: 7, sackOk: true });
    // A SACK option whose length is not 2 + 8n is ignored, as is one running past the header.
    const frame = tcpFrame(VM_IP, P9_IP, { srcPort: 1, dstPort: 2, seq: 1, ack: 2, flags: ACK, window: 9, sack: [block(10, 20)] });
    const seg = frame.slice(34); // past Ethernet and IPv4
    for (const len of [9, 18]) {
      seg[23] = len; // kind 5 (at 22): length 10 → not 2 + 8n / past the header
      seg[16] = seg[17] = 0;
      setTcpChecksum(seg, 0, seg.length, VM_IP, P9_IP);
      expect(parseTcp(seg, VM_IP, P9_IP)!.sack).toBeUndefined();
    }
  });
});

describe('SACK scoreboard', () => {
  it('merges blocks, ignores those outside [una, sndMax], forgets what is acked', () => {
    const b = new SackScoreboard();
    expect(b.update([block(200, 300), block(100, 150)], 100, 1000)).toBe(true);
    expect(b.update([block(150, 200)], 100, 1000)).toBe(true); // bridges the two
    expect(b.ranges()).toEqual([block(100, 300)]);
    expect(b.update([block(120, 180)], 100, 1000)).toBe(false); // nothing new
    expect(b.update([block(50, 120), block(900, 1100), block(400, 400)], 100, 1000)).toBe(false); // below una, past sndMax, empty
    b.update([block(500, 600)], 100, 1000);
    expect(b.sackedBytes).toBe(300);
    b.ackTo(250);
    expect(b.ranges()).toEqual([block(250, 300), block(500, 600)]);
    expect(b.sackedBytes).toBe(150);
    expect(b.nextHole(250, 1000)).toEqual(block(300, 500));
    expect(b.nextHole(550, 1000)).toEqual(block(600, 1000));
    expect(b.skipSacked(250)).toBe(300);
    expect(b.nextSackedStart(300, 1000)).toBe(500);
  });

  it('works across sequence-number wrap', () => {
    const b = new SackScoreboard();
    const una = 0xffffff00;
    b.update([block(una + 0x200, una + 0x300)], una, una + 0x1000);
    expect(b.ranges()).toEqual([block(0x100, 0x200)]);
    expect(b.nextHole(una, una + 0x1000)).toEqual(block(una, 0x100));
  });

  it('IsLost: more than (DupThresh−1)·SMSS bytes or DupThresh ranges above a hole', () => {
    const b = new SackScoreboard();
    b.update([block(2000, 4000)], 0, 10_000);
    expect(b.lostEdge(0, 1000)).toBe(0); // 2 segments above: not yet
    b.update([block(4000, 4001)], 0, 10_000);
    expect(b.lostEdge(0, 1000)).toBe(2000); // everything un-SACKed below 2000 is lost
    const c = new SackScoreboard();
    c.update([block(100, 110), block(200, 210), block(300, 310)], 0, 10_000);
    expect(c.lostEdge(0, 1000)).toBe(100); // three discontiguous ranges
  });
});

describe('SACK-based loss recovery (RFC 6675)', () => {
  it('retransmits the hole after one duplicate ACK when three segments above it are SACKed', () => {
    const { peer, s } = sending();
    peer.ack = s(1);
    peer.send(ACK); // segment 0 arrived
    peer.segments(); // the window slid: new data
    peer.send(ACK, undefined, { sack: [block(s(2), s(5))] });
    const out = peer.segments();
    expect(starts(out)).toContain(s(1));
    expect(starts(out).filter((x) => x >= s(2) && x < s(10))).toEqual([]); // nothing SACKed or merely in flight again
  });

  it('with GRO-coalesced ACKs and no duplicate at all: an ACK that moves SND.UNA and SACKs enough starts recovery', () => {
    const { peer, s } = sending();
    peer.ack = s(1);
    peer.send(ACK, undefined, { sack: [block(s(2), s(6))] });
    expect(starts(peer.segments())).toContain(s(1));
  });

  it('counts a window-changing ACK that SACKs new data as a duplicate; without SACK it does not (RFC 5681)', () => {
    for (const sackOk of [true, false]) {
      const { peer, s } = sending({ sackOk });
      for (let i = 1; i <= 3; i++) {
        expect(starts(peer.segments())).not.toContain(s(0));
        // 100 bytes more each time: too little for IsLost, so only the count can trigger.
        peer.send(ACK, undefined, { window: 60_000 - i, sack: sackOk ? [block(s(1), s(1) + 100 * i)] : undefined });
      }
      expect(starts(peer.segments()).includes(s(0))).toBe(sackOk);
    }
  });

  it('resends only the holes, each once, then new data as the pipe allows', () => {
    const { peer, s } = sending();
    peer.ack = s(1);
    peer.send(ACK);
    const fresh = starts(peer.segments()); // new data past segment 9
    expect(Math.min(...fresh)).toBe(s(10));
    const high = Math.max(...fresh) + 1000;
    // Segments 1 and 4 lost, everything else arrived.
    peer.send(ACK, undefined, { sack: [block(s(5), high), block(s(2), s(4))] });
    const out = starts(peer.segments());
    expect(out.filter((x) => x < high).sort((a, b) => a - b)).toEqual([s(1), s(4)]);
    peer.send(ACK, undefined, { sack: [block(s(5), high), block(s(2), s(4))], window: 65000 }); // nothing new: no more resends
    expect(starts(peer.segments()).filter((x) => x < high)).toEqual([]);
    peer.ack = s(4);
    peer.send(ACK, undefined, { sack: [block(s(5), high)] }); // partial ACK
    expect(starts(peer.segments()).filter((x) => x < high)).toEqual([]); // segment 4 already resent
    peer.ack = high;
    peer.send(ACK);
    expect(starts(peer.segments()).every((x) => x >= high)).toBe(true);
  });

  it('ignores SACK blocks outside [SND.UNA, SND.MAX]', () => {
    const { peer, s } = sending();
    for (let i = 0; i < 2; i++) peer.send(ACK, undefined, { window: 1000 + i, sack: [block(s(10), s(20)), block(s(0) - 5000, s(0))] });
    expect(starts(peer.segments())).toEqual([]);
  });

  it('after an RTO resends the head, then skips what the peer holds', () => {
    const { peer, s, net } = sending();
    // Segments 0 and 1 lost; 2 and 3 SACKed (not enough to call 0 lost); nothing else comes back.
    peer.send(ACK, undefined, { sack: [block(s(2), s(4))] });
    expect(starts(peer.segments())).toEqual([s(10), s(11)]); // two SACKed segments left the pipe: new data (cf. RFC 3042)
    net.clock.advance(50); // the default 50 ms floor (handshake RTT sample 0)
    expect(starts(peer.segments())).toEqual([s(0)]);
    peer.ack = s(1);
    peer.send(ACK, undefined, { sack: [block(s(2), s(4))] });
    // Slow start from one segment: cwnd 2 → segment 1, then 4 (2 and 3 are held).
    expect(starts(peer.segments())).toEqual([s(1), s(4)]);
    peer.ack = s(5);
    peer.send(ACK);
    expect(starts(peer.segments())).toEqual([5, 6, 7, 8, 9, 10].map(s)); // cwnd 6000 (slow start by bytes acked)
  });
});
