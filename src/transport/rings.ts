// container2wasm's SharedArrayBuffer rings: the byte pipe between c2w's VM worker and
// the network stack (see DESIGN.md, "container2wasm browser wiring"). Pure byte
// movement, no framing and no `node:*`: it runs in a browser worker, a page or Node.
//
// Layouts (little-endian Int32 words, as c2w creates them):
//   toNet (VM → network), 1 MiB:  ctrl @0, begin @4, end @8, notify @12, data @16
//   fromNet (network → VM), 1 MiB: ctrl @0, begin @4, end @8, data @12
//   metaFromNet, 4 KiB:            ctrl @0, begin @4, end @8, status @12, data @16
//
// Lock: `Atomics.compareExchange(ctrl, 0, 0, 1) === 0` takes it; storing 0 and
// `Atomics.notify(ctrl)` releases it. begin/end/data are only touched under the lock.
//
// Index convention, read from c2w's own reader and writer (stack.js / worker.js):
// - `begin` is inclusive, `end` exclusive; both live in [0, size] where size is the
//   data area's length. Neither is wrapped to 0 when it reaches `size`: a read that
//   stops at the data end leaves begin == size, a write that stops there leaves
//   end == size. Only a write (or read) that continues at offset 0 stores the wrapped
//   index. We must keep that (normalising begin from size to 0 would make an empty
//   ring with end == size look full to c2w's writer).
// - readable = end >= begin ? end - begin : (size - begin) + end; so begin == end is
//   empty.
// - c2w's writer computes free = end >= begin ? (size - end) + begin : begin - end,
//   i.e. it keeps no byte free. From begin == end == 0 it can fill the ring completely
//   (end == size, unambiguous), but a write that wraps and ends exactly at `begin`
//   leaves begin == end, which every reader takes for empty: those bytes are lost.
//   Our writers therefore keep one byte free (free - 1), which c2w's reader handles
//   unchanged; our reader accepts everything c2w's writer can produce, including
//   the completely full begin == 0, end == size.
// - c2w's VM writer is all-or-nothing per send (it drops a chunk that does not fit);
//   readers may take any prefix.
// - toNet.notify: after each send the VM stores 1 and notifies it; the consumer stores
//   0 before looking at the ring and waits while it is 0.
// - metaFromNet is not a ring: the VM reader takes data[0, end), sets end = 0 and is
//   done once status == 1 (begin unused). The writer appends at data[end] and sets
//   status = 1 in the same locked section as the last chunk.

export const RING_SIZE = 1024 * 1024;
export const META_SIZE = 4096;
export const TO_NET_DATA_OFFSET = 16;
export const FROM_NET_DATA_OFFSET = 12;
export const META_DATA_OFFSET = 16;
/** Largest chunk our writers put into an empty 1 MiB ring (one byte is kept free). */
export const TO_NET_CAPACITY = RING_SIZE - TO_NET_DATA_OFFSET - 1;
export const FROM_NET_CAPACITY = RING_SIZE - FROM_NET_DATA_OFFSET - 1;

export interface RingBuffers {
  toNet: SharedArrayBuffer;
  fromNet: SharedArrayBuffer;
  metaFromNet: SharedArrayBuffer;
}

/** Fresh, zeroed rings with c2w's exact sizes. */
export function createRingBuffers(): RingBuffers {
  return {
    toNet: new SharedArrayBuffer(RING_SIZE),
    fromNet: new SharedArrayBuffer(RING_SIZE),
    metaFromNet: new SharedArrayBuffer(META_SIZE),
  };
}

// ---------------------------------------------------------------- ring primitives

interface Ring {
  ctrl: Int32Array;
  begin: Int32Array;
  end: Int32Array;
  data: Uint8Array;
}

function ringView(sab: SharedArrayBuffer, dataOffset: number): Ring {
  return {
    ctrl: new Int32Array(sab, 0, 1),
    begin: new Int32Array(sab, 4, 1),
    end: new Int32Array(sab, 8, 1),
    data: new Uint8Array(sab, dataOffset),
  };
}

function tryLock(ctrl: Int32Array): boolean {
  return Atomics.compareExchange(ctrl, 0, 0, 1) === 0;
}

function unlock(ctrl: Int32Array): void {
  Atomics.store(ctrl, 0, 0);
  Atomics.notify(ctrl, 0);
}

/** Blocking lock for the VM side (a worker may block; a page falls back to spinning). */
function lockBlocking(ctrl: Int32Array): void {
  let canWait = true;
  while (!tryLock(ctrl)) {
    if (canWait) {
      try {
        Atomics.wait(ctrl, 0, 1, 50);
      } catch {
        canWait = false; // Atomics.wait is not allowed on this thread: spin
      }
    }
  }
}

/** Bytes waiting in the ring (caller holds the lock). */
function readable(r: Ring): number {
  const b = r.begin[0]!;
  const e = r.end[0]!;
  return e >= b ? e - b : r.data.length - b + e;
}

/** Space our writers may fill: c2w's free space minus the byte kept free. */
function writable(r: Ring): number {
  const b = r.begin[0]!;
  const e = r.end[0]!;
  const free = e >= b ? r.data.length - e + b : b - e;
  return Math.max(0, free - 1);
}

/** Takes up to `max` bytes (caller holds the lock), moving begin as c2w's reader does. */
function take(r: Ring, max: number): Uint8Array {
  const b = r.begin[0]!;
  const e = r.end[0]!;
  let len: number;
  let round: number;
  if (e >= b) {
    len = e - b;
    round = 0;
  } else {
    len = r.data.length - b;
    round = e;
  }
  if (max < len) {
    len = max;
    round = 0;
  } else if (max < len + round) {
    round = max - len;
  }
  const out = new Uint8Array(len + round);
  if (len > 0) {
    out.set(r.data.subarray(b, b + len), 0);
    r.begin[0] = b + len;
  }
  if (round > 0) {
    out.set(r.data.subarray(0, round), len);
    r.begin[0] = round;
  }
  return out;
}

/** Writes all of `bytes` (caller checked `writable`), moving end as c2w's writer does. */
function put(r: Ring, bytes: Uint8Array): void {
  const e = r.end[0]!;
  const b = r.begin[0]!;
  let len = e >= b ? r.data.length - e : b - e;
  if (len > bytes.length) len = bytes.length;
  if (len > 0) {
    r.data.set(bytes.subarray(0, len), e);
    r.end[0] = e + len;
  }
  if (bytes.length > len) {
    r.data.set(bytes.subarray(len), 0);
    r.end[0] = bytes.length - len;
  }
}

// ---------------------------------------------------------------- async waiting

type WaitAsync = (ia: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };
const waitAsync: WaitAsync | undefined = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync?.bind(Atomics);

/**
 * Calls `fn` once `ia[0]` may no longer be `value` (woken by a notify), or after `ms`.
 * Never blocks: Atomics.waitAsync where the platform has it, else a timer.
 */
function sleepOn(ia: Int32Array, value: number, ms: number, fn: () => void, useWaitAsync: boolean): void {
  if (useWaitAsync && waitAsync) {
    const r = waitAsync(ia, 0, value, ms);
    if (r.async) {
      void (r.value as Promise<string>).then(fn);
      return;
    }
    if (r.value === 'not-equal') {
      setTimeout(fn, 0);
      return;
    }
  }
  setTimeout(fn, ms);
}

// ---------------------------------------------------------------- stack side

export interface StackRingOptions {
  /** Polling interval (ms) when Atomics.waitAsync is missing or disabled. Default 2. */
  pollIntervalMs?: number;
  /** Upper bound (ms) of the backoff while fromNet is full or locked. Default 16. */
  maxBackoffMs?: number;
  /** Most bytes handed to onBytes per read. Default: everything readable. */
  readChunk?: number;
  /** Bytes read from toNet per event-loop turn before yielding. Default 4 MiB. */
  burstBytes?: number;
  /** Set false to poll with timers even where Atomics.waitAsync exists. */
  useWaitAsync?: boolean;
}

export interface RingStats {
  /** Times a write into fromNet had to wait (ring full or locked) and was retried. */
  retries: number;
  /** Bytes read from toNet (VM → network). */
  bytesIn: number;
  /** Bytes written into fromNet (network → VM). */
  bytesOut: number;
}

export interface StackRingEndpoint {
  /** Queues network → VM bytes; they enter fromNet in order, none dropped. */
  write(bytes: Uint8Array): void;
  /** Stops reading and writing; queued bytes are discarded. */
  close(): void;
  readonly stats: RingStats;
  /** Bytes queued for fromNet and not yet written. */
  readonly queuedBytes: number;
}

/**
 * The network side of the rings: reads what the VM writes into toNet and hands it to
 * `onBytes` (feed it to `frameLinkOverBytes(...).receive`), and writes into fromNet.
 * Never blocks the event loop: locks are tried, and retried from timers or
 * Atomics.waitAsync wake-ups.
 */
export function attachStackToRings(rings: RingBuffers, onBytes: (bytes: Uint8Array) => void, opts: StackRingOptions = {}): StackRingEndpoint {
  const toNet = ringView(rings.toNet, TO_NET_DATA_OFFSET);
  const notify = new Int32Array(rings.toNet, 12, 1);
  const fromNet = ringView(rings.fromNet, FROM_NET_DATA_OFFSET);
  const pollMs = opts.pollIntervalMs ?? 2;
  const maxBackoff = opts.maxBackoffMs ?? 16;
  const readChunk = opts.readChunk ?? Infinity;
  const burst = opts.burstBytes ?? 4 * 1024 * 1024;
  const useWaitAsync = opts.useWaitAsync ?? true;
  const stats: RingStats = { retries: 0, bytesIn: 0, bytesOut: 0 };
  let closed = false;

  // ---- VM → network
  let readScheduled = false;
  const scheduleRead = (how: () => void) => {
    if (readScheduled || closed) return;
    readScheduled = true;
    how();
  };
  const readWake = () => {
    readScheduled = false;
    pump();
  };
  function pump(): void {
    if (closed) return;
    let moved = 0;
    for (;;) {
      // c2w's consumer clears notify before looking, then waits while it stays 0.
      Atomics.store(notify, 0, 0);
      if (!tryLock(toNet.ctrl)) {
        // The VM holds the lock for a memcpy: wait for its release.
        scheduleRead(() => sleepOn(toNet.ctrl, 1, 1, readWake, useWaitAsync));
        return;
      }
      let chunk: Uint8Array;
      try {
        chunk = readable(toNet) > 0 ? take(toNet, readChunk) : new Uint8Array(0);
      } finally {
        unlock(toNet.ctrl);
      }
      if (chunk.length === 0) {
        scheduleRead(() =>
          useWaitAsync && waitAsync
            ? sleepOn(notify, 0, 1000, readWake, true) // the timeout only bounds a lost wake-up
            : setTimeout(readWake, pollMs),
        );
        return;
      }
      stats.bytesIn += chunk.length;
      moved += chunk.length;
      onBytes(chunk);
      if (closed) return;
      if (moved >= burst) {
        scheduleRead(() => setTimeout(readWake, 0));
        return;
      }
    }
  }

  // ---- network → VM
  const queue: Uint8Array[] = [];
  let queueHead = 0; // offset into queue[0] already written
  let queued = 0;
  let flushScheduled = false;
  let backoff = 0;

  function flush(): void {
    flushScheduled = false;
    if (closed) return;
    while (queued > 0) {
      if (!tryLock(fromNet.ctrl)) return retryLater(1);
      let progressed = 0;
      try {
        let room = writable(fromNet);
        while (room > 0 && queue.length > 0) {
          const head = queue[0]!;
          const part = head.subarray(queueHead, queueHead + Math.min(room, head.length - queueHead));
          put(fromNet, part);
          room -= part.length;
          progressed += part.length;
          queueHead += part.length;
          if (queueHead === head.length) {
            queue.shift();
            queueHead = 0;
          }
        }
      } finally {
        unlock(fromNet.ctrl);
      }
      queued -= progressed;
      stats.bytesOut += progressed;
      if (queued > 0 && progressed === 0) return retryLater(0);
      if (progressed > 0) backoff = 0;
    }
  }

  /** ctrlValue 1: lock was held, wake on its release; 0: ring full, wake when the VM reads. */
  function retryLater(ctrlValue: 0 | 1): void {
    stats.retries++;
    backoff = backoff === 0 ? 1 : Math.min(maxBackoff, backoff * 2);
    flushScheduled = true;
    // The VM notifies ctrl after each read, so a waitAsync on it wakes us as soon as
    // space appears; the timeout is the backoff.
    sleepOn(fromNet.ctrl, ctrlValue, backoff, flush, useWaitAsync);
  }

  pump();

  return {
    write(bytes) {
      if (closed || bytes.length === 0) return;
      queue.push(bytes.slice());
      queued += bytes.length;
      if (!flushScheduled) flush();
    },
    close() {
      if (closed) return;
      closed = true;
      queue.length = 0;
      queued = 0;
      Atomics.notify(notify, 0); // wake our own pending waitAsync so it settles now
    },
    stats,
    get queuedBytes() {
      return queued;
    },
  };
}

/**
 * Hands a blob (the proxy CA certificate) to the VM through metaFromNet: appended in
 * chunks as the VM drains the area, status set to 1 with the last one. Resolves once
 * all of it is in the buffer.
 */
export function writeMeta(rings: RingBuffers, bytes: Uint8Array, opts: { maxBackoffMs?: number } = {}): Promise<void> {
  const ctrl = new Int32Array(rings.metaFromNet, 0, 1);
  const end = new Int32Array(rings.metaFromNet, 8, 1);
  const status = new Int32Array(rings.metaFromNet, 12, 1);
  const data = new Uint8Array(rings.metaFromNet, META_DATA_OFFSET);
  const maxBackoff = opts.maxBackoffMs ?? 16;
  let off = 0;
  let backoff = 0;
  return new Promise((resolve) => {
    const step = () => {
      if (tryLock(ctrl)) {
        let done = false;
        try {
          const e = end[0]!;
          const n = Math.min(data.length - e, bytes.length - off);
          if (n > 0) {
            data.set(bytes.subarray(off, off + n), e);
            end[0] = e + n;
            off += n;
            backoff = 0;
          }
          if (off === bytes.length) {
            status[0] = 1;
            done = true;
          }
        } finally {
          unlock(ctrl);
        }
        if (done) return resolve();
      }
      backoff = backoff === 0 ? 1 : Math.min(maxBackoff, backoff * 2);
      setTimeout(step, backoff);
    };
    step();
  });
}

// ---------------------------------------------------------------- VM side

export interface VmRingEndpoint {
  /** Writes all of `bytes` into toNet and signals notify; false (nothing written) when it does not fit. */
  send(bytes: Uint8Array): boolean;
  /** Drains up to `max` bytes from fromNet; empty when there is nothing. Never waits for data. */
  receive(max?: number): Uint8Array;
  /** Bytes waiting in fromNet. */
  readable(): number;
  /** One step of c2w's certificate reader: what metaFromNet holds now, and whether it is complete. */
  receiveMeta(): { bytes: Uint8Array; done: boolean };
}

/**
 * What c2w's VM worker does with the rings (used by tests and by our own VM worker).
 * Its lock waits block (Atomics.wait), as the VM worker's do; the stack side only ever
 * holds a lock for one copy.
 */
export function vmRingEndpoint(rings: RingBuffers): VmRingEndpoint {
  const toNet = ringView(rings.toNet, TO_NET_DATA_OFFSET);
  const notify = new Int32Array(rings.toNet, 12, 1);
  const fromNet = ringView(rings.fromNet, FROM_NET_DATA_OFFSET);
  const meta = ringView(rings.metaFromNet, META_DATA_OFFSET);
  const metaStatus = new Int32Array(rings.metaFromNet, 12, 1);
  return {
    send(bytes) {
      lockBlocking(toNet.ctrl);
      let ok = false;
      try {
        if (bytes.length <= writable(toNet)) {
          put(toNet, bytes);
          ok = true;
        }
      } finally {
        unlock(toNet.ctrl);
      }
      Atomics.store(notify, 0, 1);
      Atomics.notify(notify, 0);
      return ok;
    },
    receive(max = Infinity) {
      lockBlocking(fromNet.ctrl);
      try {
        return take(fromNet, max);
      } finally {
        unlock(fromNet.ctrl);
      }
    },
    readable() {
      lockBlocking(fromNet.ctrl);
      try {
        return readable(fromNet);
      } finally {
        unlock(fromNet.ctrl);
      }
    },
    receiveMeta() {
      lockBlocking(meta.ctrl);
      try {
        const n = meta.end[0]!;
        const bytes = meta.data.slice(0, n);
        if (n > 0) meta.end[0] = 0;
        return { bytes, done: metaStatus[0] === 1 };
      } finally {
        unlock(meta.ctrl);
      }
    },
  };
}
