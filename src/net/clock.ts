// Time is injected so the TCP state machine runs under a fake clock in tests and under
// whatever timer source a browser worker has.

export interface Clock {
  /** Milliseconds, monotonic enough for RTT estimates. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => (typeof performance !== 'undefined' ? performance.now() : Date.now()),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A one-shot timer whose deadline moves on nearly every ACK. Moving it later does not
 * touch the host timer: the host timer fires at the old deadline, sees the new one and
 * re-arms. Only an earlier deadline or a cancel reaches setTimeout/clearTimeout.
 */
export class Timer {
  private deadline = -1;
  private handle: unknown = undefined;
  private armedFor = -1;

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  get pending(): boolean {
    return this.deadline >= 0;
  }

  set(ms: number): void {
    this.deadline = this.clock.now() + ms;
    if (this.handle === undefined || this.armedFor > this.deadline) this.arm();
  }

  cancel(): void {
    this.deadline = -1;
    if (this.handle !== undefined) {
      this.clock.clearTimeout(this.handle);
      this.handle = undefined;
    }
  }

  private arm(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedFor = this.deadline;
    this.handle = this.clock.setTimeout(() => this.fire(), Math.max(0, this.deadline - this.clock.now()));
  }

  private fire(): void {
    this.handle = undefined;
    if (this.deadline < 0) return;
    if (this.clock.now() < this.deadline) return this.arm();
    this.deadline = -1;
    this.fn();
  }
}

export interface Logger {
  info?(m: string): void;
  warn?(m: string): void;
  debug?(m: string): void;
}
