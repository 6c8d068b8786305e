// The VM's console and its waiting: fd 0 reads and fds 1/2 write through a TtyClient
// (xterm-pty's worker end, or anything with the same three methods), and poll_oneoff
// waits on stdin, the accepted socket and clocks together. browser_wasi_shim's own
// poll_oneoff handles a single clock subscription by spinning, which a VM that polls
// its console and network at once cannot use.
import {
  ERRNO_BADF,
  ERRNO_INVAL,
  ERRNO_SUCCESS,
  EVENTTYPE_CLOCK,
  EVENTTYPE_FD_READ,
  EVENTTYPE_FD_WRITE,
  clockNowNs,
  ioVecs,
  readSubscriptions,
  setU32,
  writeEvents,
  type MemoryGetter,
  type PollEvent,
  type Subscription,
  type WasiImports,
} from './wasi-abi.js';

/**
 * The terminal as the VM worker sees it: the methods of xterm-pty's TtyClient that a
 * WASI VM needs (declared here so xterm-pty stays the page's choice, not a dependency).
 */
export interface TtyClient {
  /** Blocks until input is available; returns at most `length` bytes. */
  onRead(length: number): ArrayLike<number>;
  onWrite(bytes: number[]): void;
  /** Blocks up to `timeout` seconds (0: just look, negative: no limit); true when input is waiting. */
  onWaitForReadable(timeout: number): boolean;
}

/** The accepted socket as poll_oneoff sees it. */
export interface PollableSocket {
  fd: number;
  /** False before sock_accept and after shutdown. */
  connected(): boolean;
  readable(): number;
  /** Blocks until readable or `timeoutMs` passes. */
  waitReadable(timeoutMs: number): boolean;
}

export interface TtyPatchOptions {
  memory: MemoryGetter;
  tty: TtyClient;
  socket?: PollableSocket;
  /**
   * While both stdin and the socket are polled, how often stdin is looked at, ms;
   * default 10. The socket wakes the wait at once; the terminal has no shared word to
   * wait on, so it is asked between slices.
   */
  stdinSliceMs?: number;
}

/** Sleeps without spinning (a worker, or Node, may block). */
function sleep(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function patchTtyImports(imports: WasiImports, opts: TtyPatchOptions): void {
  const { memory, tty, socket } = opts;
  const stdinSlice = opts.stdinSliceMs ?? 10;
  const orig = { ...imports };

  imports.fd_read = (fd: number, iovsPtr: number, iovsLen: number, nreadPtr: number) => {
    if (fd !== 0) return orig.fd_read!(fd, iovsPtr, iovsLen, nreadPtr);
    const mem = memory();
    let total = 0;
    // One blocking read, like read(2) on a terminal: what is typed so far, not a full buffer.
    for (const buf of ioVecs(mem, iovsPtr, iovsLen)) {
      if (buf.length === 0) continue;
      const data = tty.onRead(buf.length);
      const n = Math.min(data.length, buf.length);
      buf.set(n === data.length ? data : Array.prototype.slice.call(data, 0, n));
      total += n;
      break;
    }
    setU32(mem, nreadPtr, total);
    return ERRNO_SUCCESS;
  };

  imports.fd_write = (fd: number, iovsPtr: number, iovsLen: number, nwrittenPtr: number) => {
    if (fd !== 1 && fd !== 2) return orig.fd_write!(fd, iovsPtr, iovsLen, nwrittenPtr);
    const mem = memory();
    let total = 0;
    for (const buf of ioVecs(mem, iovsPtr, iovsLen)) {
      if (buf.length === 0) continue;
      tty.onWrite(Array.from(buf));
      total += buf.length;
    }
    setU32(mem, nwrittenPtr, total);
    return ERRNO_SUCCESS;
  };

  imports.poll_oneoff = (inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) => {
    if (nsubs === 0) return ERRNO_INVAL;
    const subs = readSubscriptions(memory(), inPtr, nsubs);
    if (!subs) return ERRNO_INVAL;
    const events = poll(subs);
    // Re-read the memory: it may have grown (and its buffer changed) while we waited.
    const mem = memory();
    writeEvents(mem, outPtr, events);
    setU32(mem, neventsPtr, events.length);
    return ERRNO_SUCCESS;
  };

  function poll(subs: Subscription[]): PollEvent[] {
    let stdin: Subscription | undefined;
    let conn: Subscription | undefined;
    const immediate: PollEvent[] = [];
    // The earliest clock decides how long we wait (ms since now; Infinity: no clock).
    let waitMs = Infinity;
    const clocks: { sub: Subscription; deadline: number }[] = [];
    const start = Date.now();
    for (const s of subs) {
      if (s.type === EVENTTYPE_CLOCK) {
        const ns = s.abstime ? s.timeout - clockNowNs(s.clockId) : s.timeout;
        const ms = ns > 0n ? Number(ns) / 1e6 : 0;
        clocks.push({ sub: s, deadline: start + ms });
        waitMs = Math.min(waitMs, ms);
      } else if (s.type === EVENTTYPE_FD_WRITE && (s.fd === 1 || s.fd === 2 || (socket && s.fd === socket.fd && socket.connected()))) {
        // Writes never refuse: the console takes everything, the socket waits for room.
        immediate.push({ userdata: s.userdata, error: ERRNO_SUCCESS, type: s.type, nbytes: 0 });
      } else if (s.type === EVENTTYPE_FD_READ && s.fd === 0) {
        stdin = s;
      } else if (s.type === EVENTTYPE_FD_READ && socket && s.fd === socket.fd && socket.connected()) {
        conn = s;
      } else {
        // Not a descriptor we can wait on: report it at once instead of failing the call.
        immediate.push({ userdata: s.userdata, error: ERRNO_BADF, type: s.type });
      }
    }

    const ready = (stdinTimeoutSec: number): PollEvent[] => {
      const out: PollEvent[] = [];
      if (conn) {
        const n = socket!.readable();
        if (n > 0) out.push({ userdata: conn.userdata, error: ERRNO_SUCCESS, type: EVENTTYPE_FD_READ, nbytes: n });
      }
      if (stdin && tty.onWaitForReadable(out.length > 0 ? 0 : stdinTimeoutSec)) {
        out.push({ userdata: stdin.userdata, error: ERRNO_SUCCESS, type: EVENTTYPE_FD_READ, nbytes: 1 });
      }
      return out;
    };

    let events = immediate.length > 0 ? immediate.concat(ready(0)) : ready(0);
    while (events.length === 0) {
      const left = waitMs === Infinity ? Infinity : start + waitMs - Date.now();
      if (left <= 0) break;
      if (stdin && !conn) {
        // Only the terminal: let it block for the whole wait (xterm-pty: negative = no limit).
        events = ready(left === Infinity ? -1 : left / 1000);
        break;
      }
      if (conn) socket!.waitReadable(stdin ? Math.min(left, stdinSlice) : left);
      else sleep(left === Infinity ? 2 ** 31 - 1 : left);
      events = ready(0);
    }
    const now = Date.now();
    for (const c of clocks) {
      if (c.deadline <= now) events.push({ userdata: c.sub.userdata, error: ERRNO_SUCCESS, type: EVENTTYPE_CLOCK });
    }
    // A timer that fired a little early (xterm-pty's setTimeout) still ends the wait.
    if (events.length === 0 && clocks.length > 0) {
      const first = clocks.reduce((a, b) => (b.deadline < a.deadline ? b : a));
      events.push({ userdata: first.sub.userdata, error: ERRNO_SUCCESS, type: EVENTTYPE_CLOCK });
    }
    return events;
  }
}
