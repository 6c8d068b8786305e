// One TCP connection, server side, from SYN-RECEIVED to CLOSED (RFC 9293), with
// RFC 6298 retransmission timing, NewReno fast retransmit/recovery (RFC 6582),
// RFC 7323 window scaling, sender and receiver silly-window avoidance and zero-window
// probing. It never sees bytes on the wire: segments go out through `env.emit`.

import { Timer, type Clock, type Logger } from './clock.js';
import type { TcpConnection, TcpTuning } from './tcp-api.js';
import { OutOfOrderQueue, SendQueue } from './tcp-buffers.js';
import {
  ACK, FIN, PSH, RST, SYN, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, segmentLength,
  type TcpHeaderFields, type TcpSegment,
} from './tcp.js';

export type { TcpConnection, TcpTuning } from './tcp-api.js';
export { DEFAULT_TUNING } from './tcp-api.js';

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
  private readonly peerScaled: boolean;
  private readonly sendQ = new SendQueue();
  private readonly sendMss: number;
  private finQueued = false;
  private finSeq = 0;
  private wantDrain = false;
  private cwnd: number;
  private ssthresh = 0x7fffffff;
  private dupAcks = 0;
  private inRecovery = false;
  private recover = 0;
  private srtt = -1;
  private rttvar = 0;
  private rto: number;
  private rttSeq = 0;
  private rttStart = -1;
  private retries = 0;
  private probeInterval = 0;

  // Receive side.
  private rcvNxt: number;
  private rcvAdvRight: number;
  private readonly rcvShift: number;
  private readonly rcvCapacity: number;
  private held: Uint8Array[] = [];
  private heldHead = 0;
  private heldBytes = 0;
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
    const scaled = syn.wscale !== undefined;
    this.peerScaled = scaled;
    this.sndShift = scaled ? syn.wscale! : 0;
    let shift = 0;
    while (scaled && shift < 14 && 65535 * 2 ** shift < t.receiveBuffer) shift++;
    this.rcvShift = shift;
    this.rcvCapacity = scaled ? t.receiveBuffer : Math.min(t.receiveBuffer, 65535);
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvAdvRight = this.rcvNxt;
    this.sndUna = iss;
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.sndWnd = syn.window; // never scaled in a SYN
    this.sndWl1 = syn.seq;
    this.sndWl2 = iss;
    this.cwnd = 10 * this.sendMss; // RFC 6928 initial window
    this.rto = t.initialRtoMs;
    this.rttStart = clock.now();
    this.rttSeq = this.sndNxt;
  }

  /** Sends the SYN-ACK. Separate from the constructor so the endpoint can register us first: a synchronous link may answer before emit returns. */
  open(): void {
    this.rtxTimer.set(this.rto);
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
    const before = seqDiff(this.rcvAdvRight, this.rcvNxt);
    while (this.receiving && this.heldHead < this.held.length) {
      const b = this.held[this.heldHead]!;
      this.held[this.heldHead++] = EMPTY;
      this.heldBytes -= b.length;
      this.onData(b);
    }
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    }
    this.maybeNotifyClose();
    // Tell a peer that is waiting on a small or closed window that room opened up.
    const free = this.rcvCapacity - this.heldBytes;
    if (!this.isClosed() && free >= before + Math.min(this.rcvCapacity / 2, 2 * this.env.tuning.mss)) this.sendAck();
  }

  /** A method, not a field test: callbacks into the app can close us mid-function. */
  isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  /** Ends the connection at once; with a RST unless it is only lingering in TIME_WAIT. */
  destroy(reason: string): void {
    this.abort(reason, this.state !== 'TIME_WAIT');
  }

  /** Bytes queued for the VM and not yet acknowledged (for tests and metrics). */
  get bufferedAmount(): number {
    return this.sendQ.length;
  }

  // ---- segments from the peer ----

  onSegment(seg: TcpSegment): void {
    if (this.isClosed()) return;
    if (this.state === 'SYN_RCVD' && seg.flags & SYN && !(seg.flags & ACK) && seqAdd(seg.seq, 1) === this.rcvNxt) {
      this.sendSynAck(); // our SYN-ACK was lost and the peer repeated its SYN
      return;
    }
    if (!this.acceptable(seg)) {
      if (!(seg.flags & RST)) this.sendAck();
      return;
    }
    if (seg.flags & RST) {
      // RFC 5961 §3: only an exact match resets; an in-window guess gets a challenge ACK.
      if (seg.seq === this.rcvNxt) this.abort('reset by peer', false);
      else this.sendAck();
      return;
    }
    if (seg.flags & SYN) return this.sendAck(); // RFC 5961 §4 challenge ACK
    if (!(seg.flags & ACK)) return;
    if (this.state === 'SYN_RCVD') {
      if (!seqGt(seg.ack, this.sndUna) || seqGt(seg.ack, this.sndMax)) return this.sendReset(seg.ack);
      this.sndUna = seg.ack;
      if (this.rttStart >= 0) this.sampleRtt(this.env.clock.now() - this.rttStart);
      this.rttStart = -1;
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

  private acceptable(seg: TcpSegment): boolean {
    const len = segmentLength(seg);
    const wnd = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const inWindow = (s: number) => seqLe(this.rcvNxt, s) && seqLt(s, seqAdd(this.rcvNxt, wnd));
    if (len === 0) return wnd === 0 ? seg.seq === this.rcvNxt : inWindow(seg.seq) || seg.seq === this.rcvNxt;
    return wnd > 0 && (inWindow(seg.seq) || inWindow(seqAdd(seg.seq, len - 1)));
  }

  /** Handles the ACK field; false when the segment must be dropped. */
  private processAck(seg: TcpSegment): boolean {
    if (seqGt(seg.ack, this.sndMax)) {
      this.sendAck(); // acks something we never sent
      return false;
    }
    const mss = this.sendMss;
    const newWnd = seg.window << this.sndShift;
    const outstanding = seqDiff(this.sndMax, this.sndUna);
    this.retries = 0; // the peer is alive; only silence counts towards giving up
    if (seqGt(seg.ack, this.sndUna)) {
      const acked = seqDiff(seg.ack, this.sndUna);
      this.sendQ.consume(Math.min(acked, this.sendQ.length));
      this.sndUna = seg.ack;
      if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
      if (this.rttStart >= 0 && seqGe(seg.ack, this.rttSeq)) {
        this.sampleRtt(this.env.clock.now() - this.rttStart);
        this.rttStart = -1;
      }
      if (this.inRecovery) {
        if (seqGe(seg.ack, this.recover)) {
          this.inRecovery = false;
          this.cwnd = this.ssthresh;
        } else {
          // NewReno partial ACK: the next hole is lost too.
          this.retransmitHead();
          this.cwnd = Math.max(mss, this.cwnd - acked + mss);
        }
      } else if (this.cwnd < this.ssthresh) this.cwnd += acked; // slow start by bytes acked, as Linux counts packets
      else this.cwnd += Math.max(1, Math.floor((mss * mss) / this.cwnd));
      this.dupAcks = 0;
      if (seqGt(this.sndMax, this.sndUna)) this.rtxTimer.set(this.rto);
      else this.rtxTimer.cancel();
      if (this.wantDrain && this.sendQ.length <= this.env.tuning.sendHighWater / 2) {
        this.wantDrain = false;
        this.onDrain();
        if (this.isClosed()) return false;
      }
    } else if (
      seg.ack === this.sndUna && seg.payload.length === 0 && !(seg.flags & FIN) && newWnd === this.sndWnd && outstanding > 0
    ) {
      this.dupAcks++;
      if (this.dupAcks === 3 && !(seqLe(this.sndUna, this.recover) && this.inRecovery)) {
        this.ssthresh = Math.max(Math.floor(outstanding / 2), 2 * mss);
        this.recover = this.sndMax;
        this.inRecovery = true;
        this.retransmitHead();
        this.cwnd = this.ssthresh + 3 * mss;
      } else if (this.dupAcks > 3 && this.inRecovery) this.cwnd += mss;
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
    let seq = seg.seq;
    let data = seg.payload;
    let fin = (seg.flags & FIN) !== 0;
    if (seqLt(seq, this.rcvNxt)) {
      const cut = seqDiff(this.rcvNxt, seq);
      if (cut > data.length) {
        data = data.subarray(data.length);
        fin = false;
      } else data = data.subarray(cut);
      seq = this.rcvNxt;
    }
    const room = Math.max(0, seqDiff(this.rcvAdvRight, seq));
    if (data.length > room) {
      data = data.subarray(0, room);
      fin = false;
    }
    if (seq !== this.rcvNxt) {
      this.ooo.insert(seq, data, fin);
      return this.sendAck(); // immediate duplicate ACK drives the peer's fast retransmit
    }
    const fillsHole = this.ooo.size > 0;
    if (data.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      this.unacked++;
      this.deliver(data);
    }
    if (!fin && fillsHole) {
      const more = this.ooo.take(this.rcvNxt);
      for (const d of more.data) {
        this.rcvNxt = seqAdd(this.rcvNxt, d.length);
        this.deliver(d);
      }
      fin = more.fin;
    }
    if (this.isClosed()) return;
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.ooo.clear();
      this.peerFin();
      if (!this.isClosed()) this.sendAck();
    } else if (fillsHole || this.unacked >= 2) this.sendAck();
    else if (this.unacked > 0) this.ackTimer.set(this.env.tuning.delayedAckMs);
  }

  private deliver(bytes: Uint8Array): void {
    if (this.receiving && this.heldBytes === 0) this.onData(bytes);
    else {
      this.held.push(bytes);
      this.heldBytes += bytes.length;
    }
  }

  private peerFin(): void {
    if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
    else if (this.state === 'FIN_WAIT_1') this.state = 'CLOSING';
    else if (this.state === 'FIN_WAIT_2') this.enterTimeWait();
    this.peerFinPending = true;
    this.maybeNotifyClose();
  }

  private maybeNotifyClose(): void {
    if (this.peerFinPending && this.heldBytes === 0) this.notifyClose();
  }

  private notifyClose(): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.onClose();
  }

  // ---- output ----

  /** Sends what the windows allow: new data, then the FIN once all data is out. */
  private output(): void {
    if (!SEND_STATES.has(this.state)) return;
    const mss = this.sendMss;
    let unsent = 0;
    for (;;) {
      const dataEnd = seqAdd(this.sndUna, this.sendQ.length);
      unsent = Math.max(0, seqDiff(dataEnd, this.sndNxt));
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const usable = Math.min(this.sndWnd, this.cwnd) - inFlight;
      const len = Math.min(mss, unsent, Math.max(0, usable));
      const fin = this.finQueued && seqAdd(this.sndNxt, len) === this.finSeq;
      if (len === 0 && !fin) break;
      // Sender SWS avoidance: no runt while more data waits and ACKs are coming to open the window.
      if (len < mss && len < unsent && inFlight > 0) break;
      this.sendSegment(this.sndNxt, len, fin);
      if (fin || !SEND_STATES.has(this.state)) break;
    }
    // A closed window with nothing in flight: only a probe will learn when it reopens.
    if (unsent > 0 && this.sndWnd === 0 && this.sndNxt === this.sndUna && !this.persistTimer.pending) {
      this.probeInterval = this.probeInterval || this.rto;
      this.persistTimer.set(this.probeInterval);
    }
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
    if (isNew && this.rttStart < 0) {
      this.rttStart = this.env.clock.now();
      this.rttSeq = seqAdd(seq, Math.max(1, len));
    } else if (!isNew) this.rttStart = -1; // Karn: no samples across retransmissions
    let flags = ACK | (fin ? FIN : 0);
    if (len > 0 && offset + len === this.sendQ.length) flags |= PSH;
    if (!this.rtxTimer.pending) this.rtxTimer.set(this.rto);
    this.emit(seq, flags, len > 0 ? this.sendQ : null, offset, len);
  }

  /** Resends the oldest unacknowledged segment, whatever the windows say. */
  private retransmitHead(): void {
    const len = Math.min(this.sendMss, this.sendQ.length);
    const fin = this.finQueued && seqAdd(this.sndUna, len) === this.finSeq;
    if (len === 0 && !fin) return;
    this.sendSegment(this.sndUna, len, fin);
  }

  private onRetransmitTimer(): void {
    const t = this.env.tuning;
    if (this.state === 'SYN_RCVD') {
      if (++this.retries > t.synRetries) return this.abort('handshake timed out', false);
      this.rto = Math.min(this.rto * 2, t.maxRtoMs);
      this.rttStart = -1;
      this.sendSynAck();
      this.rtxTimer.set(this.rto);
      return;
    }
    const outstanding = seqDiff(this.sndMax, this.sndUna);
    if (!SEND_STATES.has(this.state) || outstanding <= 0) return;
    if (++this.retries > t.maxRetries) return this.abort('retransmission timed out', true);
    this.ssthresh = Math.max(Math.floor(outstanding / 2), 2 * this.sendMss);
    this.cwnd = this.sendMss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recover = this.sndMax;
    this.rto = Math.min(this.rto * 2, t.maxRtoMs);
    this.sndNxt = this.sndUna; // go back: the receiver may have dropped everything after the hole
    this.retransmitHead();
    this.rtxTimer.set(this.rto);
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

  private sampleRtt(r: number): void {
    const t = this.env.tuning;
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(t.maxRtoMs, Math.max(t.minRtoMs, this.srtt + Math.max(1, 4 * this.rttvar)));
  }

  /** The window field for our next segment; moves the advertised right edge, never back. */
  private windowField(): number {
    const mss = this.env.tuning.mss;
    let free = Math.max(0, this.rcvCapacity - this.heldBytes);
    // Receiver SWS avoidance: do not offer slivers while the application lags.
    if (free < mss && free < this.rcvCapacity / 2) free = 0;
    let wnd = Math.min(65535, Math.floor(free / 2 ** this.rcvShift));
    const promised = Math.ceil(Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt)) / 2 ** this.rcvShift);
    if (wnd < promised) wnd = Math.min(65535, promised);
    const right = seqAdd(this.rcvNxt, wnd * 2 ** this.rcvShift);
    if (seqGt(right, this.rcvAdvRight)) this.rcvAdvRight = right;
    return wnd;
  }

  private emit(seq: number, flags: number, queue: SendQueue | null, offset: number, len: number): void {
    const f: TcpHeaderFields = {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack: this.rcvNxt,
      flags,
      window: this.windowField(),
    };
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
    const window = Math.min(65535, this.rcvCapacity);
    this.rcvAdvRight = seqAdd(this.rcvNxt, window);
    this.env.emit(
      this,
      {
        srcPort: this.localPort,
        dstPort: this.remotePort,
        seq: this.iss,
        ack: this.rcvNxt,
        flags: SYN | ACK,
        window,
        mss: this.env.tuning.mss,
        // Offered only when the peer offered it (RFC 7323 §2.2).
        wscale: this.peerScaled ? this.rcvShift : undefined,
      },
      null,
      0,
      0,
    );
  }

  private sendReset(seq: number): void {
    this.env.emit(this, { srcPort: this.localPort, dstPort: this.remotePort, seq, ack: 0, flags: RST, window: 0 }, null, 0, 0);
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
      this.env.emit(
        this,
        { srcPort: this.localPort, dstPort: this.remotePort, seq: this.sndNxt, ack: this.rcvNxt, flags: RST | ACK, window: 0 },
        null,
        0,
        0,
      );
    }
    this.finish(reason);
  }

  private finish(reason: string): void {
    const wasEstablished = this.state !== 'SYN_RCVD';
    this.state = 'CLOSED';
    for (const timer of [this.rtxTimer, this.persistTimer, this.ackTimer, this.lingerTimer]) timer.cancel();
    this.sendQ.clear();
    this.ooo.clear();
    this.held = [];
    this.heldBytes = 0;
    this.env.logger.debug?.(`TCP ${this.remote}: ${reason}`);
    this.env.gone(this);
    if (wasEstablished) this.notifyClose();
  }
}

const EMPTY = new Uint8Array(0);
