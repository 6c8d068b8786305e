// The VM worker's socket over c2w's rings: what sock_send / sock_recv / poll_oneoff of a
// WASI VM (c2w's `--net=socket`) turn into. Runs on a worker thread that may block, as
// c2w's VM worker does. Differs from c2w in one way only: a send that does not fit in
// toNet waits for the stack to drain it and is retried (counted), where c2w drops it
// (it logs that the buffer is full) and the VM's TCP has to recover.
import { TO_NET_CAPACITY, vmRingEndpoint, type RingBuffers } from '../transport/rings.js';

export interface VmSocketStats {
  /** Bytes written into toNet. */
  sent: number;
  /** Bytes read from fromNet. */
  received: number;
  /** Sends that found toNet full and waited before trying again. */
  fullRetries: number;
}

export interface VmSocket {
  /** Writes all of `bytes` into toNet, waiting while the ring is full. */
  send(bytes: Uint8Array): void;
  /** Copies what fromNet holds, up to `target.length`, into target; 0 when empty. Never waits. */
  recvInto(target: Uint8Array): number;
  /** Bytes waiting in fromNet. */
  readable(): number;
  /** Blocks until fromNet holds data or `timeoutMs` passes (Infinity: no limit). */
  waitReadable(timeoutMs: number): boolean;
  readonly stats: VmSocketStats;
}

export interface VmSocketOptions {
  /** Longest single wait while toNet is full, ms; default 16. */
  maxBackoffMs?: number;
  /**
   * Longest single wait for fromNet, ms; default 10. The stack notifies fromNet's ctrl
   * word after each write, which ends a wait at once; the slice only bounds a write that
   * lands between our look at the ring and the wait.
   */
  waitSliceMs?: number;
  /** Told once per send that has been waiting this long (ms) for room; default 5000. */
  stallMs?: number;
  onStall?: (waitedMs: number) => void;
}

export function ringSocket(rings: RingBuffers, opts: VmSocketOptions = {}): VmSocket {
  const vm = vmRingEndpoint(rings);
  const toNetCtrl = new Int32Array(rings.toNet, 0, 1);
  const fromNetCtrl = new Int32Array(rings.fromNet, 0, 1);
  const maxBackoff = opts.maxBackoffMs ?? 16;
  const slice = opts.waitSliceMs ?? 10;
  const stallMs = opts.stallMs ?? 5000;
  const stats: VmSocketStats = { sent: 0, received: 0, fullRetries: 0 };

  function sendChunk(chunk: Uint8Array): void {
    let backoff = 1;
    let started = 0;
    let stallReported = false;
    while (!vm.send(chunk)) {
      stats.fullRetries++;
      if (started === 0) started = Date.now();
      // The stack releases toNet's lock with a notify after every read, which is when
      // room appears; the timeout covers a read that finished before we got here.
      Atomics.wait(toNetCtrl, 0, 0, backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
      if (!stallReported && Date.now() - started >= stallMs) {
        stallReported = true;
        opts.onStall?.(Date.now() - started);
      }
    }
    stats.sent += chunk.length;
  }

  return {
    send(bytes) {
      // vmRingEndpoint writes all or nothing; a chunk larger than the ring never fits,
      // and a byte stream may be cut anywhere.
      for (let off = 0; off < bytes.length; off += TO_NET_CAPACITY) sendChunk(bytes.subarray(off, off + TO_NET_CAPACITY));
    },
    recvInto(target) {
      if (target.length === 0) return 0;
      const got = vm.receive(target.length);
      target.set(got);
      stats.received += got.length;
      return got.length;
    },
    readable: () => vm.readable(),
    waitReadable(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (vm.readable() > 0) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(fromNetCtrl, 0, 0, Math.min(left, slice));
      }
    },
    stats,
  };
}
