// The VM's end of c2w's rings for a VM whose frames arrive as a byte stream (a WebSocket
// to a native VM, the emscripten QEMU's in-page socket): bytes from the VM go into toNet,
// bytes in fromNet go back to the VM. It plays the part of c2w's VM worker
// (vmRingEndpoint follows c2w's algorithm: all-or-nothing writes, notify after each),
// with one deliberate difference: where c2w drops a chunk that does not fit (and logs
// that its buffer is full), we keep it, back off and retry, and count the retry.
// Runs on a page's main thread: nothing here blocks for long (the ring locks are held
// by the stack only for one copy) and fromNet is watched with Atomics.waitAsync.
import { TO_NET_CAPACITY, vmRingEndpoint, type RingBuffers } from '../transport/rings.js';

export interface RingPumpStats {
  /** Bytes moved VM → toNet. */
  toNet: number;
  /** Bytes moved fromNet → VM. */
  fromNet: number;
  /** Writes into toNet refused because the ring was full, each retried later. */
  fullRetries: number;
}

export interface RingPump {
  /** Bytes the VM sent (QEMU-framed stream, any chunking). Kept by reference until written: do not reuse the buffer. */
  receive(bytes: Uint8Array): void;
  /** Stops both directions; queued bytes are discarded. */
  close(): void;
  readonly stats: RingPumpStats;
}

export interface RingPumpOptions {
  /** Longest wait between retries of a full toNet, ms; default 16. */
  maxBackoffMs?: number;
  /** Longest wait for fromNet data before looking again, ms; default 50. */
  idleWaitMs?: number;
}

/**
 * Pumps between a VM's byte stream and the rings. `sendToVm` gets every chunk read from
 * fromNet, in order.
 */
export function pumpRings(rings: RingBuffers, sendToVm: (bytes: Uint8Array) => void, opts: RingPumpOptions = {}): RingPump {
  const vm = vmRingEndpoint(rings);
  const maxBackoff = opts.maxBackoffMs ?? 16;
  const idleWait = opts.idleWaitMs ?? 50;
  const stats: RingPumpStats = { toNet: 0, fromNet: 0, fullRetries: 0 };
  const queue: Uint8Array[] = [];
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let backoff = 1;
  let closed = false;

  function drainQueue(): void {
    retryTimer = undefined;
    while (!closed && queue.length > 0) {
      const chunk = queue[0]!;
      if (!vm.send(chunk)) {
        stats.fullRetries++;
        retryTimer = setTimeout(drainQueue, backoff);
        backoff = Math.min(backoff * 2, maxBackoff);
        return;
      }
      backoff = 1;
      stats.toNet += chunk.length;
      queue.shift();
    }
  }

  // The stack unlocks fromNet's ctrl word with Atomics.notify after each write, so a
  // wait on ctrl wakes when data arrives; the timeout covers a write that landed
  // between our read and the wait.
  const ctrl = new Int32Array(rings.fromNet, 0, 1);
  async function watchFromNet(): Promise<void> {
    while (!closed) {
      const bytes = vm.receive();
      if (bytes.length > 0) {
        stats.fromNet += bytes.length;
        sendToVm(bytes);
        // Let the transport flush before the next read.
        await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      const w = Atomics.waitAsync(ctrl, 0, 0, idleWait);
      if (w.async) await w.value;
    }
  }
  void watchFromNet();

  return {
    receive(bytes) {
      if (closed) return;
      // A chunk larger than the ring could never fit; a byte stream may be split anywhere.
      for (let off = 0; off < bytes.length; off += TO_NET_CAPACITY) queue.push(bytes.subarray(off, off + TO_NET_CAPACITY));
      if (!retryTimer) drainQueue();
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      queue.length = 0;
    },
    stats,
  };
}
