// The few pieces of the WASI preview1 ABI our import patches read and write. Kept here,
// not taken from browser_wasi_shim, so the patches work against any WASI host object
// and can be tested with a bare WebAssembly.Memory (and because the shim 0.4.2 reads a
// clock subscription's flags from the wrong offset).

export const ERRNO_SUCCESS = 0;
export const ERRNO_AGAIN = 6;
export const ERRNO_BADF = 8;
export const ERRNO_INVAL = 28;
export const ERRNO_NOTSUP = 58;

export const FILETYPE_SOCKET_STREAM = 6;
export const FDFLAGS_NONBLOCK = 1 << 2;
// Rights a stream socket has; wasi-libc's fcntl(F_GETFL) derives O_RDWR from the first two.
export const RIGHTS_SOCKET = (1n << 1n) /* fd_read */ | (1n << 6n) /* fd_write */ | (1n << 27n) /* poll_fd_readwrite */ | (1n << 28n); /* sock_shutdown */

export const EVENTTYPE_CLOCK = 0;
export const EVENTTYPE_FD_READ = 1;
export const EVENTTYPE_FD_WRITE = 2;
export const CLOCKID_REALTIME = 0;
export const CLOCKID_MONOTONIC = 1;
export const SUBCLOCKFLAGS_ABSTIME = 1;

/** Sizes of the preview1 structs, from the witx definitions. */
export const IOVEC_SIZE = 8;
export const SUBSCRIPTION_SIZE = 48;
export const EVENT_SIZE = 32;

/** Any WASI import object: browser_wasi_shim's `wasiImport`, or a test's plain object. */
export type WasiImports = Record<string, (...args: any[]) => unknown>;

/** A getter, because the instance (and its memory) exists only after the imports are made. */
export type MemoryGetter = () => WebAssembly.Memory;

/** Views of a guest buffer list (iovec / ciovec: u32 buf, u32 len), in guest memory. */
export function ioVecs(mem: WebAssembly.Memory, ptr: number, count: number): Uint8Array[] {
  const dv = new DataView(mem.buffer);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const buf = dv.getUint32(ptr + i * IOVEC_SIZE, true);
    const len = dv.getUint32(ptr + i * IOVEC_SIZE + 4, true);
    out.push(new Uint8Array(mem.buffer, buf, len));
  }
  return out;
}

export function setU32(mem: WebAssembly.Memory, ptr: number, value: number): void {
  new DataView(mem.buffer).setUint32(ptr, value, true);
}

export type Subscription =
  | { userdata: bigint; type: typeof EVENTTYPE_CLOCK; clockId: number; timeout: bigint; abstime: boolean }
  | { userdata: bigint; type: typeof EVENTTYPE_FD_READ | typeof EVENTTYPE_FD_WRITE; fd: number };

/** Reads `count` subscriptions (userdata u64 @0, tag u8 @8, union @16). */
export function readSubscriptions(mem: WebAssembly.Memory, ptr: number, count: number): Subscription[] | undefined {
  const dv = new DataView(mem.buffer);
  const subs: Subscription[] = [];
  for (let i = 0; i < count; i++) {
    const p = ptr + i * SUBSCRIPTION_SIZE;
    const userdata = dv.getBigUint64(p, true);
    const type = dv.getUint8(p + 8);
    if (type === EVENTTYPE_CLOCK) {
      // subscription_clock: id u32 @0, timeout u64 @8, precision u64 @16, flags u16 @24
      subs.push({
        userdata,
        type,
        clockId: dv.getUint32(p + 16, true),
        timeout: dv.getBigUint64(p + 24, true),
        abstime: (dv.getUint16(p + 40, true) & SUBCLOCKFLAGS_ABSTIME) !== 0,
      });
    } else if (type === EVENTTYPE_FD_READ || type === EVENTTYPE_FD_WRITE) {
      subs.push({ userdata, type, fd: dv.getUint32(p + 16, true) });
    } else {
      return undefined;
    }
  }
  return subs;
}

export interface PollEvent {
  userdata: bigint;
  error: number;
  type: number;
  /** fd_read / fd_write: bytes available (a hint). */
  nbytes?: number;
}

/** Writes events (userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24). */
export function writeEvents(mem: WebAssembly.Memory, ptr: number, events: PollEvent[]): void {
  const dv = new DataView(mem.buffer);
  new Uint8Array(mem.buffer, ptr, events.length * EVENT_SIZE).fill(0);
  events.forEach((e, i) => {
    const p = ptr + i * EVENT_SIZE;
    dv.setBigUint64(p, e.userdata, true);
    dv.setUint16(p + 8, e.error, true);
    dv.setUint8(p + 10, e.type);
    if (e.nbytes !== undefined) dv.setBigUint64(p + 16, BigInt(e.nbytes), true);
  });
}

/** Now on a WASI clock, in ns, computed as browser_wasi_shim's clock_time_get does. */
export function clockNowNs(clockId: number): bigint {
  return clockId === CLOCKID_REALTIME ? BigInt(Date.now()) * 1_000_000n : BigInt(Math.round(performance.now() * 1e6));
}
