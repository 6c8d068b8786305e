import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { treeFileSystem } from '../../src/fs/index.js';
import { createImageNetwork } from '../../src/image-network.js';
import { buildDhcp, DISCOVER, OFFER, parseDhcp } from '../../src/net/dhcp.js';
import { attachLink, encodeFrame, FrameDecoder, frameLinkOverBytes } from '../../src/net/index.js';
import {
  attachStackToRings,
  createRingBuffers,
  FROM_NET_CAPACITY,
  FROM_NET_DATA_OFFSET,
  META_DATA_OFFSET,
  RING_SIZE,
  TO_NET_CAPACITY,
  TO_NET_DATA_OFFSET,
  vmRingEndpoint,
  writeMeta,
} from '../../src/transport/rings.js';
import { fixture } from '../p9/fixture.js';
import { BCAST_MAC, decode, udpFrame, VM_MAC } from '../net/helpers.js';

const TO_DATA = RING_SIZE - TO_NET_DATA_OFFSET;
const FROM_DATA = RING_SIZE - FROM_NET_DATA_OFFSET;

function words(sab: SharedArrayBuffer) {
  const i = new Int32Array(sab, 0, 4);
  return { ctrl: i[0], begin: i[1], end: i[2], fourth: i[3] };
}
function setIdx(sab: SharedArrayBuffer, begin: number, end: number) {
  const i = new Int32Array(sab, 0, 3);
  i[1] = begin;
  i[2] = end;
}
function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
};
/** Byte equality without vitest's element-by-element diff (slow on MiB arrays). */
function expectBytes(got: Uint8Array, want: Uint8Array) {
  expect(got.length).toBe(want.length);
  expect(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.length), Buffer.from(want.buffer, want.byteOffset, want.length))).toBe(0);
}
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};

describe('ring layout', () => {
  it('has c2w sizes and zeroed control words', () => {
    const r = createRingBuffers();
    expect(r.toNet).toBeInstanceOf(SharedArrayBuffer);
    expect([r.toNet.byteLength, r.fromNet.byteLength, r.metaFromNet.byteLength]).toEqual([1 << 20, 1 << 20, 4096]);
    expect(words(r.toNet)).toEqual({ ctrl: 0, begin: 0, end: 0, fourth: 0 });
    expect(words(r.metaFromNet)).toEqual({ ctrl: 0, begin: 0, end: 0, fourth: 0 });
  });

  it('places bytes where c2w expects them: toNet data @16, fromNet data @12', async () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    expect(vm.send(Uint8Array.of(1, 2, 3))).toBe(true);
    expect(words(r.toNet)).toEqual({ ctrl: 0, begin: 0, end: 3, fourth: 1 }); // notify = 1
    expect([...new Uint8Array(r.toNet, 16, 3)]).toEqual([1, 2, 3]);
    const got: Uint8Array[] = [];
    const s = attachStackToRings(r, (b) => got.push(b));
    s.write(Uint8Array.of(9, 8));
    expect([...new Uint8Array(r.fromNet, 12, 2)]).toEqual([9, 8]);
    expect(words(r.fromNet).end).toBe(2);
    expect(concat(got)).toEqual(Uint8Array.of(1, 2, 3));
    expect(words(r.toNet)).toMatchObject({ begin: 3, end: 3, ctrl: 0 });
    expect([...vm.receive()]).toEqual([9, 8]);
    s.close();
  });
});

describe('single-thread round trips', () => {
  it('1-byte writes both ways', async () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    const got: Uint8Array[] = [];
    const s = attachStackToRings(r, (b) => got.push(b));
    for (let i = 0; i < 50; i++) {
      expect(vm.send(Uint8Array.of(i))).toBe(true);
      s.write(Uint8Array.of(255 - i));
    }
    await until(() => s.stats.bytesIn === 50);
    expect(concat(got)).toEqual(Uint8Array.from({ length: 50 }, (_, i) => i));
    expect(vm.receive()).toEqual(Uint8Array.from({ length: 50 }, (_, i) => 255 - i));
    expect(vm.receive().length).toBe(0);
    s.close();
  });

  it('near-1 MiB writes: the whole capacity, one byte kept free', async () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    expect(TO_NET_CAPACITY).toBe(TO_DATA - 1);
    // The VM writer is all-or-nothing: one byte more than capacity is refused untouched.
    expect(vm.send(new Uint8Array(TO_NET_CAPACITY + 1))).toBe(false);
    expect(words(r.toNet)).toMatchObject({ begin: 0, end: 0 });
    const big = pattern(TO_NET_CAPACITY);
    expect(vm.send(big)).toBe(true);
    expect(words(r.toNet)).toMatchObject({ begin: 0, end: TO_DATA - 1 });
    expect(vm.send(Uint8Array.of(1))).toBe(false); // full
    const got: Uint8Array[] = [];
    const s = attachStackToRings(r, (b) => got.push(b), { useWaitAsync: false });
    expectBytes(concat(got), big);
    const back = pattern(FROM_NET_CAPACITY, 7);
    s.write(back);
    expect(s.stats.bytesOut).toBe(FROM_NET_CAPACITY);
    expect(s.stats.retries).toBe(0);
    expect(words(r.fromNet)).toMatchObject({ begin: 0, end: FROM_DATA - 1 });
    expectBytes(vm.receive(), back);
    expect(words(r.fromNet)).toMatchObject({ begin: FROM_DATA - 1, end: FROM_DATA - 1 });
    s.close();
  });

  it('wraps at the buffer end, leaving begin/end unwrapped at the data end as c2w does', () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    const got: Uint8Array[] = [];
    // Empty ring parked at the very end of the data area (c2w leaves indices == size).
    setIdx(r.fromNet, FROM_DATA, FROM_DATA);
    const s = attachStackToRings(r, (b) => got.push(b), { useWaitAsync: false });
    const a = pattern(1000, 3);
    s.write(a);
    // end >= begin: c2w writes size - end (0) bytes at the end, then wraps: end = 1000.
    expect(words(r.fromNet)).toMatchObject({ begin: FROM_DATA, end: 1000 });
    expectBytes(vm.receive(), a);
    expect(words(r.fromNet)).toMatchObject({ begin: 1000, end: 1000 });

    // Straddling write: 10 bytes before the end, 90 after.
    setIdx(r.fromNet, FROM_DATA - 10, FROM_DATA - 10);
    const b = pattern(100, 4);
    s.write(b);
    expect(words(r.fromNet)).toMatchObject({ begin: FROM_DATA - 10, end: 90 });
    // A reader limited to 5 bytes, then 20 (crossing the end), then the rest.
    expect(vm.receive(5)).toEqual(b.subarray(0, 5));
    expect(vm.receive(20)).toEqual(b.subarray(5, 25));
    expect(words(r.fromNet)).toMatchObject({ begin: 15, end: 90 });
    expect(vm.receive()).toEqual(b.subarray(25));

    // A read that stops exactly at the data end leaves begin == size (not 0).
    setIdx(r.fromNet, FROM_DATA - 4, FROM_DATA - 4);
    s.write(Uint8Array.of(1, 2, 3, 4));
    expect(words(r.fromNet)).toMatchObject({ end: FROM_DATA });
    expect([...vm.receive()]).toEqual([1, 2, 3, 4]);
    expect(words(r.fromNet)).toMatchObject({ begin: FROM_DATA, end: FROM_DATA });
    s.close();
  });

  it('reads every state c2w writer can produce, including completely full (begin 0, end size)', async () => {
    const r = createRingBuffers();
    const data = new Uint8Array(r.toNet, TO_NET_DATA_OFFSET);
    const full = pattern(TO_DATA, 5);
    data.set(full);
    setIdx(r.toNet, 0, TO_DATA); // c2w's writer fills from 0 to the last byte
    const got: Uint8Array[] = [];
    const s = attachStackToRings(r, (b) => got.push(b), { useWaitAsync: false });
    expectBytes(concat(got), full);
    expect(words(r.toNet)).toMatchObject({ begin: TO_DATA, end: TO_DATA });
    // Then c2w's writer, seeing end >= begin, writes at 0 (round = begin = size).
    const vm = vmRingEndpoint(r);
    expect(vm.send(Uint8Array.of(7, 7, 7))).toBe(true);
    expect(words(r.toNet)).toMatchObject({ begin: TO_DATA, end: 3 });
    await until(() => s.stats.bytesIn === TO_DATA + 3);
    expect([...got.at(-1)!]).toEqual([7, 7, 7]);
    s.close();
  });

  it('exact full/empty edges when the free space is split by the wrap', () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    const s = attachStackToRings(r, () => {}, { useWaitAsync: false });
    // begin = 100, end = size - 50: free = 50 + 100 = 150, of which 149 usable.
    setIdx(r.toNet, 100, TO_DATA - 50);
    expect(vm.send(new Uint8Array(150))).toBe(false); // would make end == begin (reads as empty)
    expect(words(r.toNet)).toMatchObject({ begin: 100, end: TO_DATA - 50 });
    expect(vm.send(pattern(149))).toBe(true);
    expect(words(r.toNet)).toMatchObject({ begin: 100, end: 99 });
    expect(vm.send(Uint8Array.of(1))).toBe(false);
    // end < begin: free = begin - end; fill to begin - 1.
    setIdx(r.fromNet, 500, 200);
    s.write(pattern(299));
    expect(words(r.fromNet)).toMatchObject({ begin: 500, end: 499 });
    expect(s.queuedBytes).toBe(0);
    s.write(Uint8Array.of(1));
    expect(s.queuedBytes).toBe(1); // full: queued, not dropped
    s.close();
  });
});

describe('backpressure', () => {
  it('queues when fromNet is full, retries, loses nothing and counts the retries', async () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    const s = attachStackToRings(r, () => {});
    const total = 3 * FROM_DATA + 12345;
    const out = pattern(total, 9);
    for (let o = 0; o < total; o += 65536) s.write(out.subarray(o, o + 65536));
    expect(s.stats.bytesOut).toBe(FROM_NET_CAPACITY);
    expect(s.queuedBytes).toBe(total - FROM_NET_CAPACITY);
    const got: Uint8Array[] = [];
    // A slow VM: reads 100 KiB at a time, 5 ms apart.
    while (got.reduce((n, b) => n + b.length, 0) < total) {
      await new Promise((res) => setTimeout(res, 5));
      got.push(vm.receive(100 * 1024));
    }
    expectBytes(concat(got), out);
    expect(s.stats.bytesOut).toBe(total);
    expect(s.stats.retries).toBeGreaterThan(0);
    expect(s.queuedBytes).toBe(0);
    s.close();
  });

  it('retries while the VM holds the fromNet lock, and with polling instead of waitAsync', async () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    const s = attachStackToRings(r, () => {}, { useWaitAsync: false, pollIntervalMs: 1 });
    const ctrl = new Int32Array(r.fromNet, 0, 1);
    Atomics.store(ctrl, 0, 1); // the VM is mid-copy
    s.write(Uint8Array.of(1, 2, 3));
    expect(s.queuedBytes).toBe(3);
    await new Promise((res) => setTimeout(res, 20));
    expect(s.stats.retries).toBeGreaterThan(0);
    Atomics.store(ctrl, 0, 0);
    Atomics.notify(ctrl, 0);
    await until(() => s.queuedBytes === 0);
    expect([...vm.receive()]).toEqual([1, 2, 3]);
    // toNet locked by the VM: the stack waits for it, then reads.
    const tctrl = new Int32Array(r.toNet, 0, 1);
    const got: Uint8Array[] = [];
    s.close();
    const s2 = attachStackToRings(r, (b) => got.push(b), { useWaitAsync: false, pollIntervalMs: 1 });
    Atomics.store(tctrl, 0, 1);
    new Uint8Array(r.toNet, TO_NET_DATA_OFFSET).set([4, 5], 0);
    setIdx(r.toNet, 0, 2);
    await new Promise((res) => setTimeout(res, 10));
    expect(got.length).toBe(0);
    Atomics.store(tctrl, 0, 0);
    Atomics.notify(tctrl, 0);
    await until(() => got.length === 1);
    expect([...got[0]!]).toEqual([4, 5]);
    s2.close();
  });
});

describe('metaFromNet', () => {
  it('hands a certificate to the VM: chunks as the VM drains, status 1 at the end', async () => {
    const r = createRingBuffers();
    const vm = vmRingEndpoint(r);
    const small = new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n');
    await writeMeta(r, small);
    expect(words(r.metaFromNet)).toMatchObject({ end: small.length, fourth: 1 });
    expect(new Uint8Array(r.metaFromNet, META_DATA_OFFSET, small.length)).toEqual(small);
    expect(vm.receiveMeta()).toEqual({ bytes: small, done: true });

    const r2 = createRingBuffers();
    const vm2 = vmRingEndpoint(r2);
    const big = pattern(10_000, 2); // more than the 4080-byte area
    let done = false;
    const p = writeMeta(r2, big).then(() => (done = true));
    const parts: Uint8Array[] = [];
    for (;;) {
      const m = vm2.receiveMeta();
      parts.push(m.bytes);
      if (m.done) break;
      await new Promise((res) => setTimeout(res, 2));
    }
    await p;
    expect(done).toBe(true);
    expectBytes(concat(parts), big);
  });
});

describe('two threads (worker_threads sharing the SABs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rings-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function workerScript(): Promise<string> {
    const out = join(dir, 'vm-worker.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./rings-vm-worker.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: out,
      logLevel: 'silent',
    });
    return out;
  }

  it('echoes thousands of framed frames of random sizes, checksums equal both ways', async () => {
    const rings = createRingBuffers();
    const script = await workerScript();
    // Stack side: decode frames, echo each one back through frameLinkOverBytes.
    let frames = 0;
    let inSum = 0x811c9dc5;
    let outSum = 0x811c9dc5;
    const fnv = (h: number, b: Uint8Array) => {
      for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
      return h;
    };
    const ends = attachStackToRings(rings, (bytes) => {
      inSum = fnv(inSum, bytes);
      byteLink.receive(bytes);
    });
    const byteLink = frameLinkOverBytes(
      (bytes) => {
        outSum = fnv(outSum, bytes);
        ends.write(bytes);
      },
      () => ends.close(),
    );
    byteLink.link.onFrame = (frame) => {
      frames++;
      byteLink.link.send(frame);
    };
    const N = 2500;
    const worker = new Worker(script, { workerData: { rings, frames: N, seed: 0xc0ffee, maxFrame: 4000 } });
    const result = await new Promise<Record<string, number>>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    ends.close();
    expect(result).toMatchObject({ sent: N, echoed: N, mismatches: 0, leftover: 0 });
    expect(frames).toBe(N);
    expect(result.sentBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(result.sentBytes).toBe(ends.stats.bytesIn);
    expect(result.recvBytes).toBe(ends.stats.bytesOut);
    expect(result.sentSum).toBe(inSum);
    expect(result.recvSum).toBe(outSum);
    expect(inSum).toBe(outSum); // an echo: the same stream both ways
    expect(ends.stats.retries).toBeGreaterThan(0); // the VM read lazily, fromNet filled up
  }, 60_000);
});

describe('end to end: DHCP over the rings', () => {
  it('a DISCOVER from the VM side gets an OFFER back through fromNet', async () => {
    const fx = await fixture();
    const rings = createRingBuffers();
    const stack = createImageNetwork(treeFileSystem(fx.route));
    const ends = attachStackToRings(rings, (bytes) => byteLink.receive(bytes));
    const byteLink = frameLinkOverBytes(
      (bytes) => ends.write(bytes),
      () => ends.close(),
    );
    const detach = attachLink(stack, byteLink.link);
    const vm = vmRingEndpoint(rings);
    const discover = udpFrame(
      0,
      68,
      0xffffffff,
      67,
      buildDhcp({ op: 1, xid: 0x1234, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: VM_MAC }, DISCOVER, []),
      { dstMac: BCAST_MAC },
    );
    expect(vm.send(encodeFrame(discover))).toBe(true);
    const decoder = new FrameDecoder();
    let offer: ReturnType<typeof parseDhcp> | undefined;
    await until(() => {
      for (const frame of decoder.push(vm.receive())) {
        const { udp } = decode(frame);
        if (!udp || udp.dstPort !== 68) continue;
        const m = parseDhcp(udp.payload);
        if (m?.type === OFFER) offer = m;
      }
      return offer !== undefined;
    });
    expect(offer!.xid).toBe(0x1234);
    expect(offer!.yiaddr).toBe(((192 << 24) | (168 << 16) | (127 << 8) | 3) >>> 0);
    detach();
    ends.close();
  });
});

