// Congestion control for one TCP connection: slow start and congestion avoidance
// (RFC 5681) with NewReno fast retransmit/recovery (RFC 6582), or, when the peer SACKs,
// the conservative SACK-based recovery of RFC 6675 (cwnd set to ssthresh, the connection
// clocks out retransmissions by its pipe estimate). It only keeps the window; the
// connection decides what counts as a duplicate ACK or a loss and sends the segments.

import { DUP_THRESH } from './tcp-sack.js';
import { seqGe, seqGt, seqLe } from './tcp.js';

export class NewReno {
  /** Bytes the connection may have in flight as far as the network is concerned. */
  cwnd: number;
  private ssthresh = 0x7fffffff;
  private dupAcks = 0;
  private inRecovery = false;
  /** sndMax when recovery began (or the timer fired): an ACK at or past it ends recovery. */
  private recover = 0;
  /** Set by a timeout until `recover` is acknowledged: no fast recovery for that window (RFC 6582 §4.1). */
  private afterTimeout = false;
  /** SACK-based recovery (RFC 6675) instead of NewReno's. */
  sack = false;

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

  get recovering(): boolean {
    return this.inRecovery;
  }

  /** An ACK for `acked` new bytes, up to `ack`. */
  newAck(ack: number, acked: number): void {
    const mss = this.mss;
    if (this.afterTimeout && seqGe(ack, this.recover)) this.afterTimeout = false;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        this.cwnd = this.ssthresh;
      } else if (!this.sack) {
        // NewReno partial ACK: the next hole is lost too.
        this.retransmitHead();
        this.cwnd = Math.max(mss, this.cwnd - acked + mss);
      } // RFC 6675: cwnd stays; the connection's pipe estimate releases the next holes.
    } else if (this.cwnd < this.ssthresh) this.cwnd += acked; // slow start by bytes acked, as Linux counts packets
    else this.cwnd += Math.max(1, Math.floor((mss * mss) / this.cwnd));
    this.dupAcks = 0;
  }

  /**
   * A duplicate ACK (RFC 5681 §2, or with SACK RFC 6675's: one that SACKs new data) of `ack`
   * with `outstanding` bytes in flight up to `sndMax`. `lost`: the SACK scoreboard already
   * shows the head lost (RFC 6675 §5 IsLost), so recovery need not wait for three.
   */
  dupAck(ack: number, outstanding: number, sndMax: number, lost = false): void {
    const mss = this.mss;
    this.dupAcks++;
    if (this.inRecovery) {
      if (!this.sack && this.dupAcks > DUP_THRESH) this.cwnd += mss; // each one means a segment left the network
      return;
    }
    // Not again for losses in the window already recovered by a timeout (RFC 6582 §3.2 step 2, §4.1).
    if (this.afterTimeout && seqLe(ack, this.recover)) return;
    if (this.dupAcks >= DUP_THRESH || (this.sack && lost)) this.enterRecovery(outstanding, sndMax);
  }

  /** SACK only: an ACK that moved SND.UNA yet leaves the new head lost by the scoreboard. */
  lossDetected(ack: number, outstanding: number, sndMax: number): void {
    if (!this.sack || this.inRecovery || (this.afterTimeout && seqLe(ack, this.recover))) return;
    if (seqGt(sndMax, ack)) this.enterRecovery(outstanding, sndMax);
  }

  private enterRecovery(outstanding: number, sndMax: number): void {
    const mss = this.mss;
    this.ssthresh = Math.max(Math.floor(outstanding / 2), 2 * mss);
    this.recover = sndMax;
    this.inRecovery = true;
    this.afterTimeout = false;
    this.retransmitHead();
    // RFC 6675 §5 step 4.2: cwnd = ssthresh and the pipe decides; NewReno inflates by the three dupacks.
    this.cwnd = this.sack ? this.ssthresh : this.ssthresh + 3 * mss;
  }

  /** The retransmission timer fired with `outstanding` bytes in flight up to `sndMax`: back to slow start. */
  timeout(outstanding: number, sndMax: number): void {
    this.ssthresh = Math.max(Math.floor(outstanding / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.afterTimeout = true;
    this.dupAcks = 0;
    this.recover = sndMax;
  }
}
