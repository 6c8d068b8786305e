// The console between the page's terminal and a VM worker that blocks (a c2w WASI VM
// inside startContainer): keystrokes go through a SharedArrayBuffer the worker can wait
// on with Atomics.wait, since a blocked worker never sees a postMessage; output comes
// back as ordinary messages (a worker can post while it runs).
//
// Input buffer: single producer (page), single consumer (worker), no lock.
//   Int32 head @0 (consumer's read count), Int32 tail @4 (producer's write count),
//   data @8 (INPUT_BYTES). Both counts wrap at 2^32: `(tail - head) | 0` is still the
//   number of unread bytes, and since 2^32 is a multiple of INPUT_BYTES, `count >>> 0`
//   modulo the size stays the right slot across the wrap. Each index has one writer.
// The page writes data, then stores tail and notifies it; the worker waits on tail.
import type { TtyClient } from '../c2w/wasi-tty.js';

const HEAD = 0;
const TAIL = 1;
const DATA_OFFSET = 8;
export const INPUT_BYTES = 64 * 1024;
const slot = (count: number) => (count >>> 0) % INPUT_BYTES;

export function createTtyInput(): SharedArrayBuffer {
  return new SharedArrayBuffer(DATA_OFFSET + INPUT_BYTES);
}

/** The page's end: keystrokes in. Returns how many bytes fit (the rest is dropped: a full 64 KiB of unread typing). */
export function ttyInputWriter(sab: SharedArrayBuffer): { write(bytes: Uint8Array): number } {
  const idx = new Int32Array(sab, 0, 2);
  const data = new Uint8Array(sab, DATA_OFFSET, INPUT_BYTES);
  return {
    write(bytes) {
      const head = Atomics.load(idx, HEAD);
      let tail = Atomics.load(idx, TAIL);
      const n = Math.min(bytes.length, INPUT_BYTES - ((tail - head) | 0));
      for (let i = 0; i < n; i++) data[slot(tail + i)] = bytes[i]!;
      tail = (tail + n) | 0;
      Atomics.store(idx, TAIL, tail);
      Atomics.notify(idx, TAIL);
      return n;
    },
  };
}

/** The worker's end, as the TtyClient startContainer takes. `post` carries output to the page. */
export function ttyClientOf(sab: SharedArrayBuffer, post: (bytes: Uint8Array) => void): TtyClient {
  const idx = new Int32Array(sab, 0, 2);
  const data = new Uint8Array(sab, DATA_OFFSET, INPUT_BYTES);
  const available = () => (Atomics.load(idx, TAIL) - Atomics.load(idx, HEAD)) | 0;
  const waitReadable = (timeoutMs: number): boolean => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tail = Atomics.load(idx, TAIL);
      if (((tail - Atomics.load(idx, HEAD)) | 0) > 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(idx, TAIL, tail, left);
    }
  };
  return {
    onRead(length) {
      waitReadable(Infinity);
      const head = Atomics.load(idx, HEAD);
      const n = Math.min(length, available());
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = data[slot(head + i)]!;
      Atomics.store(idx, HEAD, (head + n) | 0);
      return out;
    },
    onWrite(bytes) {
      post(Uint8Array.from(bytes));
    },
    onWaitForReadable(timeout) {
      if (timeout < 0) return waitReadable(Infinity);
      return waitReadable(timeout * 1000);
    },
  };
}
