// Retransmission timing for one TCP connection (RFC 6298): times one segment at a time,
// smooths the samples into SRTT/RTTVAR and derives the RTO, with Karn's rule and backoff.

import type { Clock } from './clock.js';
import type { TcpTuning } from './tcp-api.js';
import { seqGe } from './tcp.js';

export class RttEstimator {
  /** The current retransmission timeout, in ms. */
  rto: number;
  private srtt = -1;
  private rttvar = 0;
  /** The sequence number whose ACK ends the running measurement. */
  private timedSeq = 0;
  /** When the timed segment left; -1 while nothing is being timed. */
  private timedAt = -1;

  constructor(
    private readonly clock: Clock,
    private readonly tuning: TcpTuning,
  ) {
    this.rto = tuning.initialRtoMs;
  }

  get timing(): boolean {
    return this.timedAt >= 0;
  }

  /** Starts timing a segment sent now; the measurement ends when `endSeq` is acknowledged. */
  start(endSeq: number): void {
    this.timedAt = this.clock.now();
    this.timedSeq = endSeq;
  }

  /** Karn: an ACK after a retransmission cannot tell which copy it answers, so no sample. */
  cancel(): void {
    this.timedAt = -1;
  }

  /** Takes a sample if `ack` covers the timed segment. */
  acked(ack: number): void {
    if (this.timedAt >= 0 && seqGe(ack, this.timedSeq)) {
      this.sample(this.clock.now() - this.timedAt);
      this.timedAt = -1;
    }
  }

  /** Doubles the RTO after a timeout (RFC 6298 §5.5), up to the configured ceiling. */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, this.tuning.maxRtoMs);
  }

  private sample(r: number): void {
    const t = this.tuning;
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(t.maxRtoMs, Math.max(t.minRtoMs, this.srtt + Math.max(1, 4 * this.rttvar)));
  }
}
