// What applications see of a TCP connection, and the knobs of the TCP implementation.

/** What the application (the 9P server glue) sees of a connection. */
export interface TcpConnection {
  readonly remote: string;
  /** Queues data for the VM (copied). False once more than the high-water mark is unacknowledged: wait for onDrain. Never drops data. */
  write(bytes: Uint8Array): boolean;
  /** Data from the VM, in order. The bytes stay valid after the call (they are not reused). */
  onData: (bytes: Uint8Array) => void;
  onDrain: () => void;
  /** Peer closed (after all its data was delivered), reset, or timed out. Called once. */
  onClose: () => void;
  /** Graceful close: FIN after all queued data. */
  close(): void;
  /** false: stop taking data from the VM (the window closes, nothing is lost); true: resume. */
  setReceiving(on: boolean): void;
}

export interface TcpTuning {
  /** Our MSS: MTU 1500 − 40. */
  mss: number;
  receiveBuffer: number;
  sendHighWater: number;
  initialRtoMs: number;
  /**
   * Floor of the RTO that RTT samples drive (RFC 6298 §2.4). RFC 6298's 1 s and Linux's
   * 200 ms are meant for real paths; on a virtual wire the RTT is a few ms and a high floor
   * is what a lost tail segment costs. Keep it above the guest's delayed-ACK timer (Linux:
   * 40 ms minimum) so a lone segment waiting for a delayed ACK does not time out spuriously.
   */
  minRtoMs: number;
  maxRtoMs: number;
  /** Retransmissions without any answer from the peer before we give up. */
  maxRetries: number;
  synRetries: number;
  delayedAckMs: number;
  timeWaitMs: number;
  finWait2Ms: number;
}

export const DEFAULT_TUNING: TcpTuning = {
  mss: 1460,
  receiveBuffer: 256 * 1024,
  sendHighWater: 256 * 1024,
  initialRtoMs: 1000,
  minRtoMs: 50, // see TcpTuning.minRtoMs: above Linux's 40 ms delayed ACK, far below its 200 ms floor
  maxRtoMs: 60_000,
  maxRetries: 15,
  synRetries: 5,
  delayedAckMs: 20,
  timeWaitMs: 30_000,
  finWait2Ms: 60_000,
};
