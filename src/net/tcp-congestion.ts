// Congestion control for one TCP connection: slow start and congestion avoidance
// (RFC 5681) with NewReno fast retransmit/recovery (RFC 6582). It only keeps the window;
// the connection decides what counts as a duplicate ACK and sends the segments.

import { seqGe, seqLe } from './tcp.js';

export class NewReno {
  /** Bytes the connection may have in flight as far as the network is concerned. */
  cwnd: number;
  private ssthresh = 0x7fffffff;
  private dupAcks = 0;
  private inRecovery = false;
  /** sndMax when recovery began: an ACK at or past it ends recovery. */
  private recover = 0;

  /**
   * `retransmitHead` resends the oldest unacknowledged segment; it is called from inside
   * these methods, before the window changes, just where RFC 6582 says to retransmit.
   */
  constructor(
    private readonly mss: number,
    private readonly retransmitHead: () => void,
  ) {
    this.cwnd = 10 * mss; // RFC 6928 initial window
  }

  /** An ACK for `acked` new bytes, up to `ack`. */
  newAck(ack: number, acked: number): void {
    const mss = this.mss;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
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
  }

  /** A duplicate ACK (RFC 5681 §2) of `ack` with `outstanding` bytes in flight up to `sndMax`. */
  dupAck(ack: number, outstanding: number, sndMax: number): void {
    const mss = this.mss;
    this.dupAcks++;
    // Not again for losses in the window already being recovered (RFC 6582 §3.2 step 2).
    if (this.dupAcks === 3 && !(seqLe(ack, this.recover) && this.inRecovery)) {
      this.ssthresh = Math.max(Math.floor(outstanding / 2), 2 * mss);
      this.recover = sndMax;
      this.inRecovery = true;
      this.retransmitHead();
      this.cwnd = this.ssthresh + 3 * mss;
    } else if (this.dupAcks > 3 && this.inRecovery) this.cwnd += mss; // each one means a segment left the network
  }

  /** The retransmission timer fired with `outstanding` bytes in flight up to `sndMax`: back to slow start. */
  timeout(outstanding: number, sndMax: number): void {
    this.ssthresh = Math.max(Math.floor(outstanding / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recover = sndMax;
  }
}
