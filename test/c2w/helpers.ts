// Shared by the c2w tests: a guest memory to write WASI structs into, and the stack's
// end of a ring run on another thread (raw c2w algorithm, plain JS), for tests where the
// VM side blocks the test's own thread in Atomics.wait.
import { Worker } from 'node:worker_threads';
import type { TtyClient } from '../../src/c2w/index.js';

export function guestMemory(pages = 1) {
  const memory = new WebAssembly.Memory({ initial: pages });
  const dv = () => new DataView(memory.buffer);
  const u8 = () => new Uint8Array(memory.buffer);
  return {
    memory,
    get: () => memory,
    u32: (p: number) => dv().getUint32(p, true),
    setU32: (p: number, v: number) => dv().setUint32(p, v, true),
    bytes: (p: number, n: number) => u8().slice(p, p + n),
    put: (p: number, b: Uint8Array | string) => u8().set(typeof b === 'string' ? new TextEncoder().encode(b) : b, p),
    /** iovec array at `at`: [buf, len] pairs. */
    iovecs(at: number, vecs: [number, number][]) {
      vecs.forEach(([buf, len], i) => {
        dv().setUint32(at + i * 8, buf, true);
        dv().setUint32(at + i * 8 + 4, len, true);
      });
    },
    clockSub(at: number, userdata: bigint, timeoutNs: bigint, opts: { clockId?: number; abstime?: boolean } = {}) {
      const d = dv();
      new Uint8Array(memory.buffer, at, 48).fill(0);
      d.setBigUint64(at, userdata, true);
      d.setUint8(at + 8, 0);
      d.setUint32(at + 16, opts.clockId ?? 1, true);
      d.setBigUint64(at + 24, timeoutNs, true);
      d.setUint16(at + 40, opts.abstime ? 1 : 0, true);
    },
    fdSub(at: number, userdata: bigint, fd: number, type: 1 | 2 = 1) {
      const d = dv();
      new Uint8Array(memory.buffer, at, 48).fill(0);
      d.setBigUint64(at, userdata, true);
      d.setUint8(at + 8, type);
      d.setUint32(at + 16, fd, true);
    },
    events(at: number, n: number) {
      const d = dv();
      return Array.from({ length: n }, (_, i) => ({
        userdata: d.getBigUint64(at + i * 32, true),
        error: d.getUint16(at + i * 32 + 8, true),
        type: d.getUint8(at + i * 32 + 10),
        nbytes: d.getBigUint64(at + i * 32 + 16, true),
      }));
    },
  };
}

/** A TtyClient that records output and serves queued input; readiness is scripted. */
export function fakeTty(input: number[] = []) {
  const out: number[] = [];
  const waits: number[] = [];
  const tty: TtyClient & { out: number[]; waits: number[]; input: number[] } = {
    out,
    waits,
    input,
    onRead: (len) => input.splice(0, len),
    onWrite: (b) => void out.push(...b),
    onWaitForReadable: (t) => {
      waits.push(t);
      return input.length > 0;
    },
  };
  return tty;
}

const RING_JS = `
const { workerData, parentPort } = require('node:worker_threads');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const ring = (sab, off) => ({ ctrl: new Int32Array(sab, 0, 1), begin: new Int32Array(sab, 4, 1), end: new Int32Array(sab, 8, 1), data: new Uint8Array(sab, off) });
const lock = (r) => { while (Atomics.compareExchange(r.ctrl, 0, 0, 1) !== 0) {} };
const unlock = (r) => { Atomics.store(r.ctrl, 0, 0); Atomics.notify(r.ctrl, 0); };
`;

/** Another thread that, after `delayMs`, drains toNet until `expected` bytes came, then posts them. */
export function drainToNetLater(toNet: SharedArrayBuffer, expected: number, delayMs: number): Promise<Uint8Array> {
  const code = `${RING_JS}
const r = ring(workerData.sab, 16);
sleep(workerData.delayMs);
const parts = []; let total = 0;
while (total < workerData.expected) {
  lock(r);
  const b = r.begin[0], e = r.end[0];
  let n = 0;
  if (e >= b) { parts.push(r.data.slice(b, e)); n = e - b; }
  else { parts.push(r.data.slice(b)); parts.push(r.data.slice(0, e)); n = r.data.length - b + e; }
  r.begin[0] = e;
  unlock(r);
  total += n;
  if (n === 0) sleep(1);
}
parentPort.postMessage(Buffer.concat(parts));
`;
  return runWorker(code, { sab: toNet, expected, delayMs });
}

/** Another thread that, after `delayMs`, writes `bytes` into an empty fromNet and notifies. */
export function writeFromNetLater(fromNet: SharedArrayBuffer, bytes: Uint8Array, delayMs: number): Promise<unknown> {
  const code = `${RING_JS}
const r = ring(workerData.sab, 12);
sleep(workerData.delayMs);
lock(r);
r.data.set(workerData.bytes, r.end[0]);
r.end[0] += workerData.bytes.length;
unlock(r);
parentPort.postMessage('done');
`;
  return runWorker(code, { sab: fromNet, bytes, delayMs });
}

function runWorker<T>(code: string, workerData: unknown): Promise<T> {
  const w = new Worker(code, { eval: true, workerData });
  return new Promise<T>((resolve, reject) => {
    w.once('message', (m: T) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

export const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
};

export function pattern(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
