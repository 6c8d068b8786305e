// One TCP connection, server side, from SYN-RECEIVED to CLOSED (RFC 9293): the state
// machine, the send sequence space with sender silly-window avoidance and zero-window
// probing, and in-order delivery. Retransmission timing (tcp-rto.ts), congestion control
// (tcp-congestion.ts), the SACK scoreboard (tcp-sack.ts) and the offered window
// (tcp-receive-window.ts) live apart. It never sees bytes on the wire: segments go out
// through `env.emit`.
//
// With a peer that offered SACK-permitted (RFC 2018) loss recovery follows RFC 6675: a
// hole is lost once DupThresh segments' worth above it are SACKed (or on three duplicate
// ACKs), and during recovery only the lost holes are resent, clocked out by the pipe
// estimate; after a timeout we resend the head, then only what the peer does not hold.

import { Timer, type Clock, type Logger } from './clock.js';
import type { TcpConnection, TcpTuning } from './tcp-api.js';
import { HeldData, OutOfOrderQueue, SendQueue } from './tcp-buffers.js';
import { NewReno } from './tcp-congestion.js';
import { ReceiveWindow } from './tcp-receive-window.js';
import { RttEstimator } from './tcp-rto.js';
import { SackScoreboard } from './tcp-sack.js';
import { ACK, FIN, PSH, RST, SYN, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, type TcpHeaderFields, type TcpSegment } from './tcp.js';

// Kept here too: index.ts, stack.ts and the tests import these types from this module.
export type { TcpConnection, TcpTuning } from './tcp-api.js';

export interface ConnectionEnv {
  clock: Clock;
  tuning: TcpTuning;
  logger: Logger;
  /** Sends one segment; its data (if any) is queue[offset, offset+length). */
  emit(conn: Connection, f: TcpHeaderFields, queue: SendQueue | null, offset: number, length: number): void;
  established(conn: Connection): void;
  gone(conn: Connection): void;
}

export type TcpState =
  | 'SYN_RCVD' | 'ESTABLISHED' | 'CLOSE_WAIT' | 'LAST_ACK' | 'FIN_WAIT_1' | 'FIN_WAIT_2' | 'CLOSING' | 'TIME_WAIT' | 'CLOSED';

const SEND_STATES = new Set<TcpState>(['ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_1', 'LAST_ACK', 'CLOSING']);
const RECEIVE_STATES = new Set<TcpState>(['ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2']);

export class Connection implements TcpConnection {
  state: TcpState = 'SYN_RCVD';
  onData: (bytes: Uint8Array) => void = () => {};
  onDrain: () => void = () => {};
  onClose: () => void = () => {};

  // Send side. Data byte 0 of sendQ has sequence number sndUna (once the SYN is acked).
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd: number;
  private sndWl1: number;
  private sndWl2: number;
  private readonly sndShift: number;
  private readonly sendQ = new SendQueue();
  private readonly sendMss: number;
  private finQueued = false;
  private finSeq = 0;
  private wantDrain = false;
  private readonly cc: NewReno;
  private readonly rtt: RttEstimator;
  private retries = 0;
  private probeInterval = 0;
  /** The peer offered SACK-permitted and we accepted it in the SYN-ACK. */
  private readonly sackOk: boolean;
  private readonly board = new SackScoreboard();
  /** RFC 6675 HighRxt: the end of the highest range retransmitted in this recovery. */
  private highRxt: number;

  // Receive side.
  private readonly rcv: ReceiveWindow;
  private readonly held = new HeldData();
  private receiving = true;
  private readonly ooo = new OutOfOrderQueue();
  private unacked = 0;
  private peerFinPending = false;
  private closeNotified = false;

  private readonly rtxTimer: Timer;
  private readonly persistTimer: Timer;
  private readonly ackTimer: Timer;
  private readonly lingerTimer: Timer;

  constructor(
    private readonly env: ConnectionEnv,
    readonly localIp: number,
    readonly localPort: number,
    readonly remoteIp: number,
    readonly remotePort: number,
    readonly remote: string,
    syn: TcpSegment,
    private readonly iss: number,
  ) {
    const t = env.tuning;
    const clock = env.clock;
    this.rtxTimer = new Timer(clock, () => this.onRetransmitTimer());
    this.persistTimer = new Timer(clock, () => this.onPersistTimer());
    this.ackTimer = new Timer(clock, () => this.unacked > 0 && this.sendAck());
    this.lingerTimer = new Timer(clock, () => this.onLingerTimer());
    // Below ~88 bytes a peer only makes us burn CPU on headers; clamp like Linux does.
    this.sendMss = Math.max(88, Math.min(syn.mss ?? 536, t.mss));
    this.sndShift = syn.wscale ?? 0;
    this.rcv = new ReceiveWindow(t, syn);
    this.sndUna = iss;
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.sndWnd = syn.window; // never scaled in a SYN
    this.sndWl1 = syn.seq;
    this.sndWl2 = iss;
    this.cc = new NewReno(this.sendMss, () => this.retransmitHead());
    this.sackOk = syn.sackOk === true;
    this.cc.sack = this.sackOk;
    this.highRxt = this.sndUna;
    this.rtt = new RttEstimator(clock, t);
    this.rtt.start(this.sndNxt); // times the SYN-ACK
  }

  /** Sends the SYN-ACK. Separate from the constructor so the endpoint can register us first: a synchronous link may answer before emit returns. */
  open(): void {
    this.rtxTimer.set(this.rtt.rto);
    this.sendSynAck();
  }

  // ---- application side ----

  write(bytes: Uint8Array): boolean {
    if (this.finQueued || !SEND_STATES.has(this.state)) return true; // over: nothing will ever drain
    if (bytes.length > 0) {
      this.sendQ.push(bytes.slice());
      this.output();
    }
    if (this.sendQ.length > this.env.tuning.sendHighWater) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  close(): void {
    if (this.finQueued) return;
    if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
    else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
    else return;
    this.finQueued = true;
    this.finSeq = seqAdd(this.sndUna, this.sendQ.length);
    this.output();
  }

  setReceiving(on: boolean): void {
    this.receiving = on;
    if (!on || this.isClosed()) return;
    const before = seqDiff(this.rcv.right, this.rcv.nxt);
    while (this.receiving) {
      const b = this.held.shift();
      if (!b) break;
      this.onData(b);
    }
    this.maybeNotifyClose();
    // Tell a peer that is waiting on a small or closed window that room opened up.
    const free = this.rcv.capacity - this.held.bytes;
    if (!this.isClosed() && free >= before + Math.min(this.rcv.capacity / 2, 2 * this.env.tuning.mss)) this.sendAck();
  }

  /** A method, not a field test: callbacks into the app can close us mid-function. */
  isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  /** Ends the connection at once; with a RST unless it is only lingering in TIME_WAIT. */
  destroy(reason: string): void {
    this.abort(reason, this.state !== 'TIME_WAIT');
  }

  // ---- segments from the peer ----

  onSegment(seg: TcpSegment): void {
    if (this.isClosed()) return;
    if (this.state === 'SYN_RCVD' && seg.flags & SYN && !(seg.flags & ACK) && seqAdd(seg.seq, 1) === this.rcv.nxt) {
      this.sendSynAck(); // our SYN-ACK was lost and the peer repeated its SYN
      return;
    }
    if (!this.rcv.acceptable(seg)) {
      if (!(seg.flags & RST)) this.sendAck();
      return;
    }
    if (seg.flags & RST) {
      // RFC 5961 §3: only an exact match resets; an in-window guess gets a challenge ACK.
      if (seg.seq === this.rcv.nxt) this.abort('reset by peer', false);
      else this.sendAck();
      return;
    }
    if (seg.flags & SYN) return this.sendAck(); // RFC 5961 §4 challenge ACK
    if (!(seg.flags & ACK)) return;
    if (this.state === 'SYN_RCVD') {
      if (!seqGt(seg.ack, this.sndUna) || seqGt(seg.ack, this.sndMax)) return this.sendReset(seg.ack);
      this.sndUna = seg.ack;
      this.rtt.acked(seg.ack);
      this.retries = 0;
      this.rtxTimer.cancel();
      this.sndWnd = seg.window << this.sndShift;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.state = 'ESTABLISHED';
      this.env.established(this);
      if (this.isClosed()) return;
    } else if (!this.processAck(seg)) return;

    if (this.finQueued && seqGt(this.sndUna, this.finSeq)) {
      if (this.state === 'FIN_WAIT_1') {
        this.state = 'FIN_WAIT_2';
        this.lingerTimer.set(this.env.tuning.finWait2Ms);
      } else if (this.state === 'CLOSING') this.enterTimeWait();
      else if (this.state === 'LAST_ACK') return this.finish('closed');
    }
    if (seg.payload.length > 0 || seg.flags & FIN) this.receiveData(seg);
    if (!this.isClosed()) this.output();
  }

  /** Handles the ACK field; false when the segment must be dropped. */
  private processAck(seg: TcpSegment): boolean {
    if (seqGt(seg.ack, this.sndMax)) {
      this.sendAck(); // acks something we never sent
      return false;
    }
    const newWnd = seg.window << this.sndShift;
    const outstanding = seqDiff(this.sndMax, this.sndUna);
    this.retries = 0; // the peer is alive; only silence counts towards giving up
    if (seqGt(seg.ack, this.sndUna)) {
      const acked = seqDiff(seg.ack, this.sndUna);
      this.sendQ.consume(acked); // the ACK of our FIN covers one more number than the queue
      this.sndUna = seg.ack;
      if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
      this.rtt.acked(seg.ack);
      if (this.sackOk) {
        this.board.ackTo(this.sndUna);
        this.board.update(seg.sack, this.sndUna, this.sndMax);
      }
      this.cc.newAck(seg.ack, acked);
      // GRO on the guest folds the dupacks of a burst into few ACKs: let the SACKs alone say "lost".
      if (this.sackOk && this.headLost()) this.cc.lossDetected(seg.ack, seqDiff(this.sndMax, this.sndUna), this.sndMax);
      if (seqGt(this.sndMax, this.sndUna)) this.rtxTimer.set(this.rtt.rto);
      else this.rtxTimer.cancel();
      if (this.wantDrain && this.sendQ.length <= this.env.tuning.sendHighWater / 2) {
        this.wantDrain = false;
        this.onDrain();
        if (this.isClosed()) return false;
      }
    } else if (seg.ack === this.sndUna && outstanding > 0) {
      // A duplicate ACK by RFC 5681 §2's definition: anything else says nothing of loss…
      const strict = seg.payload.length === 0 && !(seg.flags & FIN) && newWnd === this.sndWnd;
      // …except that with SACK, an ACK that SACKs new data is one (RFC 6675 §2), window update or not.
      const newSack = this.sackOk && this.board.update(seg.sack, this.sndUna, this.sndMax);
      if (strict || newSack) this.cc.dupAck(seg.ack, outstanding, this.sndMax, this.sackOk && this.headLost());
    }
    // RFC 9293 §3.10.7.4: take the window only from segments not older than the last update.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, seg.ack))) {
      this.sndWnd = newWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      if (newWnd > 0) {
        this.persistTimer.cancel();
        this.probeInterval = 0;
      }
    }
    return true;
  }

  private receiveData(seg: TcpSegment): void {
    if (!RECEIVE_STATES.has(this.state)) return; // the peer already sent FIN: nothing more can come
    const part = this.rcv.trim(seg);
    const { seq, data } = part;
    let fin = part.fin; // or one the out-of-order queue was holding, below
    if (seq !== this.rcv.nxt) {
      this.ooo.insert(seq, data, fin);
      return this.sendAck(); // immediate duplicate ACK drives the peer's fast retransmit
    }
    const fillsHole = this.ooo.size > 0;
    if (data.length > 0) {
      this.rcv.nxt = seqAdd(this.rcv.nxt, data.length);
      this.unacked++;
      this.deliver(data);
    }
    if (!fin && fillsHole) {
      const more = this.ooo.take(this.rcv.nxt);
      for (const d of more.data) {
        this.rcv.nxt = seqAdd(this.rcv.nxt, d.length);
        this.deliver(d);
      }
      fin = more.fin;
    }
    if (this.isClosed()) return;
    if (fin) {
      this.rcv.nxt = seqAdd(this.rcv.nxt, 1);
      this.ooo.clear();
      this.peerFin();
      if (!this.isClosed()) this.sendAck();
    } else if (fillsHole || this.unacked >= 2) this.sendAck();
    else if (this.unacked > 0) this.ackTimer.set(this.env.tuning.delayedAckMs);
  }

  private deliver(bytes: Uint8Array): void {
    if (this.receiving && this.held.bytes === 0) this.onData(bytes);
    else this.held.push(bytes);
  }

  private peerFin(): void {
    if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
    else if (this.state === 'FIN_WAIT_1') this.state = 'CLOSING';
    else if (this.state === 'FIN_WAIT_2') this.enterTimeWait();
    this.peerFinPending = true;
    this.maybeNotifyClose();
  }

  private maybeNotifyClose(): void {
    if (this.peerFinPending && this.held.bytes === 0) this.notifyClose();
  }

  private notifyClose(): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.onClose();
  }

  // ---- output ----

  /**
   * Sends what the windows allow: in SACK recovery the lost holes first, then new data,
   * then the FIN once all data is out. After a timeout sndNxt lies below sndMax and the
   * walk forward skips what the peer SACKed.
   */
  private output(): void {
    if (!SEND_STATES.has(this.state)) return;
    const mss = this.sendMss;
    let unsent = 0;
    for (;;) {
      const pipe = this.pipe();
      const room = this.cc.cwnd - pipe;
      const dataEnd = seqAdd(this.sndUna, this.sendQ.length);
      if (this.sackOk && this.cc.recovering) {
        const lost = this.lostRange();
        const hole = lost && this.board.nextHole(lost.from, lost.to);
        if (hole) {
          const len = Math.min(mss, seqDiff(hole.end, hole.start), Math.max(0, seqDiff(dataEnd, hole.start)));
          const fin = this.finQueued && seqAdd(hole.start, len) === this.finSeq && seqGt(hole.end, this.finSeq);
          if (len === 0 && !fin) {
            this.highRxt = hole.end;
            continue;
          }
          if (room < len) break; // RFC 6675 §5 step (C): only while cwnd − pipe allows
          this.highRxt = seqAdd(hole.start, len + (fin ? 1 : 0));
          this.sendSegment(hole.start, len, fin);
          if (!SEND_STATES.has(this.state)) break;
          continue;
        }
      }
      let seq = this.sndNxt;
      let limit: number | null = null;
      if (this.sackOk && seqLt(seq, this.sndMax) && !this.board.empty) {
        const skipped = this.board.skipSacked(seq);
        if (skipped !== seq) {
          this.sndNxt = seq = skipped; // the peer holds it: do not send it again
          continue;
        }
        limit = this.board.nextSackedStart(seq, this.sndMax);
      }
      unsent = Math.max(0, seqDiff(dataEnd, seq));
      const usable = Math.min(room, this.sndWnd - seqDiff(seq, this.sndUna));
      let len = Math.min(mss, unsent, Math.max(0, usable));
      if (limit !== null) len = Math.min(len, seqDiff(limit, seq));
      const fin = this.finQueued && seqAdd(seq, len) === this.finSeq;
      if (len === 0 && !fin) break;
      // Sender SWS avoidance: no runt while more data waits and ACKs are coming to open the
      // window. A segment that ends where a SACKed range begins is no runt.
      if (len < mss && len < unsent && pipe > 0 && !(limit !== null && seqAdd(seq, len) === limit)) break;
      this.sendSegment(seq, len, fin);
      if (fin || !SEND_STATES.has(this.state)) break;
    }
    // A closed window with nothing in flight: only a probe will learn when it reopens.
    if (unsent > 0 && this.sndWnd === 0 && this.sndNxt === this.sndUna && !this.persistTimer.pending) {
      this.probeInterval = this.probeInterval || this.rtt.rto;
      this.persistTimer.set(this.probeInterval);
    }
  }

  /**
   * RFC 6675 pipe, simplified: bytes sent up to sndNxt that are neither acknowledged,
   * SACKed, nor (in recovery) lost and not yet retransmitted. Without SACK it is the
   * plain flight size.
   */
  private pipe(): number {
    const flight = Math.max(0, seqDiff(this.sndNxt, this.sndUna));
    if (!this.sackOk || this.board.empty && !this.cc.recovering) return flight;
    let pipe = flight - this.board.sackedIn(this.sndUna, this.sndNxt);
    const lost = this.cc.recovering ? this.lostRange() : null;
    if (lost) pipe -= seqDiff(lost.to, lost.from) - this.board.sackedIn(lost.from, lost.to);
    return Math.max(0, pipe);
  }

  /** In SACK recovery: [from, to) holds the lost holes not yet retransmitted (the head always counts as lost). */
  private lostRange(): { from: number; to: number } | null {
    const una = this.sndUna;
    let to = this.board.lostEdge(una, this.sendMss);
    const head = seqAdd(una, this.sendMss);
    if (seqLt(to, head)) to = head;
    if (seqGt(to, this.sndNxt)) to = this.sndNxt;
    const from = seqGt(this.highRxt, una) ? this.highRxt : una;
    return seqLt(from, to) ? { from, to } : null;
  }

  /** RFC 6675 IsLost(SND.UNA): enough SACKed above the head to call it lost. */
  private headLost(): boolean {
    return !this.board.empty && seqGt(this.board.lostEdge(this.sndUna, this.sendMss), this.sndUna);
  }

  /**
   * Sends [seq, seq+len) (+FIN) and advances sndNxt/sndMax first: a transport that
   * delivers synchronously may re-enter onSegment before emit returns.
   */
  private sendSegment(seq: number, len: number, fin: boolean): void {
    const offset = seqDiff(seq, this.sndUna);
    const isNew = seqGe(seq, this.sndMax);
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    if (isNew && !this.rtt.timing) this.rtt.start(seqAdd(seq, Math.max(1, len)));
    else if (!isNew) this.rtt.cancel();
    let flags = ACK | (fin ? FIN : 0);
    if (len > 0 && offset + len === this.sendQ.length) flags |= PSH;
    if (!this.rtxTimer.pending) this.rtxTimer.set(this.rtt.rto);
    this.emit(seq, flags, len > 0 ? this.sendQ : null, offset, len);
  }

  /** Resends the oldest unacknowledged segment, whatever the windows say. */
  private retransmitHead(): void {
    const len = Math.min(this.sendMss, this.sendQ.length);
    const fin = this.finQueued && seqAdd(this.sndUna, len) === this.finSeq;
    if (len === 0 && !fin) return;
    const end = seqAdd(this.sndUna, len + (fin ? 1 : 0));
    if (seqGt(end, this.highRxt)) this.highRxt = end;
    this.sendSegment(this.sndUna, len, fin);
  }

  private onRetransmitTimer(): void {
    const t = this.env.tuning;
    if (this.state === 'SYN_RCVD') {
      if (++this.retries > t.synRetries) return this.abort('handshake timed out', false);
      this.rtt.backoff();
      this.rtt.cancel();
      this.sendSynAck();
      this.rtxTimer.set(this.rtt.rto);
      return;
    }
    const outstanding = seqDiff(this.sndMax, this.sndUna);
    if (!SEND_STATES.has(this.state) || outstanding <= 0) return;
    if (++this.retries > t.maxRetries) return this.abort('retransmission timed out', true);
    this.cc.timeout(outstanding, this.sndMax);
    this.rtt.backoff();
    // Go back: the receiver may have dropped everything after the hole. Without SACK we
    // resend it all; with SACK the head goes out whatever the scoreboard says (the peer
    // may have reneged, RFC 2018 §8), then output() skips the ranges it holds.
    this.sndNxt = this.sndUna;
    this.highRxt = this.sndUna;
    this.retransmitHead();
    this.rtxTimer.set(this.rtt.rto);
    this.output();
  }

  private onPersistTimer(): void {
    if (!SEND_STATES.has(this.state) || this.sndWnd > 0) return this.output();
    if (++this.retries > this.env.tuning.maxRetries) return this.abort('peer window stayed closed without answers', true);
    // An old sequence number with no data is unacceptable to the peer, which must answer
    // with an ACK carrying its current window (the Linux way to probe).
    this.emit(seqAdd(this.sndUna, -1), ACK, null, 0, 0);
    this.probeInterval = Math.min(this.probeInterval * 2, this.env.tuning.maxRtoMs);
    this.persistTimer.set(this.probeInterval);
  }

  private onLingerTimer(): void {
    if (this.state === 'TIME_WAIT') this.finish('closed');
    else if (this.state === 'FIN_WAIT_2') this.abort('peer never closed its side', true);
  }

  private header(seq: number, ack: number, flags: number, window: number): TcpHeaderFields {
    return { srcPort: this.localPort, dstPort: this.remotePort, seq, ack, flags, window };
  }

  /** Every segment but SYN-ACK and RST: carries our current ACK and window, so no ACK is owed after it. */
  private emit(seq: number, flags: number, queue: SendQueue | null, offset: number, len: number): void {
    const f = this.header(seq, this.rcv.nxt, flags, this.rcv.field(this.held.bytes));
    this.unacked = 0;
    this.ackTimer.cancel();
    this.env.emit(this, f, queue, offset, len);
  }

  private sendAck(): void {
    if (this.state === 'SYN_RCVD') return this.sendSynAck();
    if (this.isClosed()) return;
    this.emit(this.sndNxt, ACK, null, 0, 0);
  }

  private sendSynAck(): void {
    const f = this.header(this.iss, this.rcv.nxt, SYN | ACK, this.rcv.synWindow());
    f.mss = this.env.tuning.mss;
    f.wscale = this.rcv.wscaleOption;
    if (this.sackOk) f.sackOk = true; // RFC 2018 §2: only when the SYN offered it
    this.env.emit(this, f, null, 0, 0);
  }

  private sendReset(seq: number): void {
    this.env.emit(this, this.header(seq, 0, RST, 0), null, 0, 0);
  }

  private enterTimeWait(): void {
    this.state = 'TIME_WAIT';
    this.rtxTimer.cancel();
    this.persistTimer.cancel();
    this.lingerTimer.set(this.env.tuning.timeWaitMs);
  }

  private abort(reason: string, sendRst: boolean): void {
    if (this.isClosed()) return;
    if (sendRst && this.state !== 'SYN_RCVD') {
      this.env.emit(this, this.header(this.sndNxt, this.rcv.nxt, RST | ACK, 0), null, 0, 0);
    }
    this.finish(reason);
  }

  private finish(reason: string): void {
    const wasEstablished = this.state !== 'SYN_RCVD';
    this.state = 'CLOSED';
    for (const timer of [this.rtxTimer, this.persistTimer, this.ackTimer, this.lingerTimer]) timer.cancel();
    this.sendQ.clear();
    this.ooo.clear();
    this.held.clear();
    this.board.clear();
    this.env.logger.debug?.(`TCP ${this.remote}: ${reason}`);
    this.env.gone(this);
    if (wasEstablished) this.notifyClose();
  }
}

