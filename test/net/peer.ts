// Client-side TCP for tests. TestPeer is driven by hand, segment by segment; AutoClient
// is a small but complete sender/receiver (go-back-N retransmission, out-of-order
// buffering, window scaling) for bulk, end-to-end and lossy-link tests.
import { ACK, FIN, RST, SYN, seqAdd, seqDiff, seqGt, seqLt, type SackBlock, type TcpSegment } from '../../src/net/tcp.js';
import { decode, P9_IP, tcpFrame, VM_IP, type FakeClock, type Net } from './helpers.js';

const EMPTY = new Uint8Array(0);

export class TestPeer {
  seq: number;
  ack = 0;
  serverWscale = 0;

  constructor(
    readonly net: Net,
    readonly port = 40000,
    isn = 5000,
  ) {
    this.seq = isn;
  }

  send(
    flags: number,
    payload: Uint8Array = EMPTY,
    o: { seq?: number; ack?: number; window?: number; mss?: number; wscale?: number; sackOk?: boolean; sack?: SackBlock[] } = {},
  ): void {
    const seq = o.seq ?? this.seq;
    this.net.stack.receive(
      tcpFrame(
        VM_IP,
        P9_IP,
        { srcPort: this.port, dstPort: 80, seq, ack: o.ack ?? this.ack, flags, window: o.window ?? 65535, mss: o.mss, wscale: o.wscale, sackOk: o.sackOk, sack: o.sack },
        payload,
      ),
    );
    if (o.seq === undefined) this.seq = seqAdd(this.seq, payload.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0));
  }

  segments(): TcpSegment[] {
    return this.net.tcpTo(this.port);
  }

  /** SYN → SYN-ACK → ACK; returns the SYN-ACK. */
  handshake(o: { mss?: number; wscale?: number; window?: number; sackOk?: boolean } = {}): TcpSegment {
    this.send(SYN, EMPTY, { mss: o.mss ?? 1460, wscale: o.wscale, window: o.window ?? 65535, sackOk: o.sackOk });
    const [synAck] = this.segments();
    if (!synAck || synAck.flags !== (SYN | ACK)) throw new Error('no SYN-ACK');
    this.ack = seqAdd(synAck.seq, 1);
    this.serverWscale = synAck.wscale ?? 0;
    this.send(ACK, EMPTY, { window: o.window ?? 65535 });
    return synAck;
  }
}

export interface AutoClientOptions {
  port: number;
  mss?: number;
  /** Bytes of receive window we offer (scaled with shift 6). */
  window?: number;
  rtoMs?: number;
  /** Offer SACK-permitted and, if the server accepts, send SACK blocks like Linux (RFC 2018). */
  sack?: boolean;
  /**
   * Like a Linux guest behind QEMU with GRO: data arriving in one millisecond is ACKed
   * once, from tick(), so a burst with a hole yields one duplicate ACK, not one per segment.
   */
  coalesceAcks?: boolean;
}

/** Speaks TCP as the VM would, through `out(frame)`; feed it frames with `input`. */
export class AutoClient {
  state: 'CLOSED' | 'SYN_SENT' | 'ESTABLISHED' = 'CLOSED';
  received: Uint8Array[] = [];
  receivedBytes = 0;
  finReceived = false;
  reset = false;
  private readonly iss = 7_000_000;
  private sndUna = this.iss;
  private sndNxt = this.iss;
  private finWanted = false;
  private peerWnd = 0;
  private peerShift = 0;
  private peerMss = 536;
  private rcvNxt = 0;
  private ooo = new Map<number, { data: Uint8Array; fin: boolean }>();
  private rtoAt = -1;
  private rto: number;
  private dupAcks = 0;
  private readonly mss: number;
  private readonly window: number;
  private stream = new Uint8Array(0);
  private sackOk = false;
  private ackPending = false;
  /** Start of the out-of-order segment received last (RFC 2018 §4: its block goes first). */
  private lastOoo = -1;

  constructor(
    private readonly clock: FakeClock,
    private readonly out: (frame: Uint8Array) => void,
    readonly o: AutoClientOptions,
  ) {
    this.mss = o.mss ?? 1460;
    this.window = o.window ?? 1 << 20;
    this.rto = o.rtoMs ?? 300;
  }

  connect(): void {
    this.state = 'SYN_SENT';
    this.sndNxt = seqAdd(this.iss, 1);
    this.emit(this.iss, SYN, EMPTY, true);
    this.rtoAt = this.clock.now() + this.rto;
  }

  write(data: Uint8Array): void {
    // Data is kept as one growing stream so any sequence range can be resent.
    const next = new Uint8Array(this.stream.length + data.length);
    next.set(this.stream);
    next.set(data, this.stream.length);
    this.stream = next;
    this.pump();
  }

  close(): void {
    this.finWanted = true;
    this.pump();
  }

  get allAcked(): boolean {
    return seqDiff(this.sndUna, seqAdd(this.iss, 1)) >= this.stream.length;
  }

  input(frame: Uint8Array): void {
    const seg = decode(frame).tcp;
    if (!seg || seg.dstPort !== this.o.port) return;
    if (seg.flags & RST) {
      this.reset = true;
      this.state = 'CLOSED';
      return;
    }
    if (this.state === 'SYN_SENT') {
      if ((seg.flags & (SYN | ACK)) !== (SYN | ACK) || seg.ack !== this.sndNxt) return;
      this.state = 'ESTABLISHED';
      this.rcvNxt = seqAdd(seg.seq, 1);
      this.sndUna = seg.ack;
      this.peerShift = seg.wscale ?? 0;
      this.peerMss = seg.mss ?? 536;
      this.peerWnd = seg.window;
      this.sackOk = this.o.sack === true && seg.sackOk === true;
      this.rtoAt = -1;
      this.sendAck();
      this.pump();
      return;
    }
    if (this.state !== 'ESTABLISHED') return;
    if (seg.flags & ACK) {
      if (seqGt(seg.ack, this.sndUna) && !seqGt(seg.ack, this.sndNxtMax())) {
        this.sndUna = seg.ack;
        if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
        this.dupAcks = 0;
        this.rto = this.o.rtoMs ?? 300;
        this.rtoAt = this.sndNxt === this.sndUna ? -1 : this.clock.now() + this.rto;
      } else if (seg.ack === this.sndUna && seg.payload.length === 0 && this.sndNxt !== this.sndUna && ++this.dupAcks === 3) {
        this.sendRange(this.sndUna);
      }
      this.peerWnd = seg.window << this.peerShift;
    }
    const fin = (seg.flags & FIN) !== 0;
    if (seg.payload.length > 0 || fin) {
      if (seg.seq === this.rcvNxt) this.accept(seg.payload, fin);
      else if (seqGt(seg.seq, this.rcvNxt)) {
        this.ooo.set(seg.seq, { data: seg.payload.slice(), fin });
        this.lastOoo = seg.seq;
      }
      for (let next = this.ooo.get(this.rcvNxt); next; next = this.ooo.get(this.rcvNxt)) {
        this.ooo.delete(this.rcvNxt);
        this.accept(next.data, next.fin);
      }
      if (this.o.coalesceAcks) this.ackPending = true;
      else this.sendAck();
    }
    this.pump();
  }

  /** Call as the clock moves: retransmission and window probes. */
  tick(): void {
    if (this.ackPending) {
      this.ackPending = false;
      this.sendAck();
    }
    if (this.rtoAt < 0 || this.clock.now() < this.rtoAt) return;
    this.rto = Math.min(this.rto * 2, 5000);
    this.rtoAt = this.clock.now() + this.rto;
    if (this.state === 'SYN_SENT') return this.emit(this.iss, SYN, EMPTY, true);
    if (this.sndNxt !== this.sndUna) {
      this.sndNxt = this.sndUna; // go back N
      this.pump(true);
    } else if (this.unsent() > 0) this.sendRange(this.sndNxt, 1); // zero-window probe with one byte
  }

  private accept(data: Uint8Array, fin: boolean): void {
    if (data.length) {
      this.received.push(data.slice());
      this.receivedBytes += data.length;
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    }
    if (fin && !this.finReceived) {
      this.finReceived = true;
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
    }
  }

  private sndNxtMax = (): number => seqAdd(this.iss, 1 + this.stream.length + (this.finWanted ? 1 : 0));

  private unsent(): number {
    return this.stream.length - seqDiff(this.sndNxt, seqAdd(this.iss, 1));
  }

  private pump(force = false): void {
    if (this.state !== 'ESTABLISHED') return;
    let budget = force ? 1 : Infinity;
    while (budget-- > 0) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const room = this.peerWnd - inFlight;
      const left = this.unsent();
      if (left > 0 && room > 0) this.sendRange(this.sndNxt, Math.min(room, this.peerMss, this.mss, left));
      else if (left <= 0 && this.finWanted && seqDiff(this.sndNxt, this.sndNxtMax()) < 0) this.sendRange(this.sndNxt, 0);
      else break;
    }
  }

  private sendRange(seq: number, max = this.peerMss): void {
    const off = seqDiff(seq, seqAdd(this.iss, 1));
    const data = this.stream.subarray(off, off + Math.max(0, Math.min(max, this.mss, this.stream.length - off)));
    const fin = this.finWanted && off + data.length === this.stream.length;
    this.emit(seq, ACK | (fin ? FIN : 0), data, false);
    const end = seqAdd(seq, data.length + (fin ? 1 : 0));
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (this.rtoAt < 0) this.rtoAt = this.clock.now() + this.rto;
  }

  private sendAck(): void {
    this.emit(this.sndNxt, ACK, EMPTY, false, this.sackBlocks());
  }

  /** Up to 4 blocks of what we hold past a hole, the most recently received first. */
  private sackBlocks(): SackBlock[] | undefined {
    if (!this.sackOk || this.ooo.size === 0) return undefined;
    const starts = [...this.ooo.keys()].filter((s) => seqGt(s, this.rcvNxt)).sort((a, b) => seqDiff(a, b));
    const blocks: SackBlock[] = [];
    for (const s of starts) {
      const end = seqAdd(s, this.ooo.get(s)!.data.length);
      const last = blocks[blocks.length - 1];
      if (last && seqGt(s, last.end)) blocks.push({ start: s, end });
      else if (last) last.end = seqGt(end, last.end) ? end : last.end;
      else blocks.push({ start: s, end });
    }
    const first = blocks.findIndex((b) => !seqLt(this.lastOoo, b.start) && seqLt(this.lastOoo, b.end));
    const ordered = first >= 0 ? [blocks[first]!, ...blocks.filter((_, i) => i !== first).reverse()] : blocks.reverse();
    return ordered.slice(0, 4);
  }

  private emit(seq: number, flags: number, data: Uint8Array, syn: boolean, sack?: SackBlock[]): void {
    this.out(
      tcpFrame(VM_IP, P9_IP, {
        srcPort: this.o.port,
        dstPort: 80,
        seq,
        ack: syn ? 0 : this.rcvNxt,
        flags: syn ? SYN : flags,
        window: syn ? Math.min(65535, this.window) : Math.min(65535, Math.floor(this.window / 64)),
        mss: syn ? this.mss : undefined,
        wscale: syn ? 6 : undefined,
        sackOk: syn && this.o.sack ? true : undefined,
        sack,
      }, data),
    );
  }

  /** Everything received, as one buffer. */
  data(): Uint8Array {
    const all = new Uint8Array(this.receivedBytes);
    let o = 0;
    for (const c of this.received) all.set(c, (o += c.length) - c.length);
    return all;
  }
}
