// pumpRings: the VM end of the rings for a byte-stream VM (the QEMU's in-page socket).
import { describe, expect, it } from 'vitest';
import { pumpRings } from '../../src/c2w/index.js';
import { attachStackToRings, createRingBuffers, TO_NET_CAPACITY, vmRingEndpoint } from '../../src/transport/rings.js';
import { pattern, sameBytes, until } from './helpers.js';

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('pumpRings', () => {
  it('moves VM chunks into toNet in order', async () => {
    const rings = createRingBuffers();
    const got: Uint8Array[] = [];
    const stack = attachStackToRings(rings, (b) => got.push(b.slice()));
    const pump = pumpRings(rings, () => {});
    const chunks = Array.from({ length: 200 }, (_, i) => pattern(1 + ((i * 997) % 5000), i));
    for (const c of chunks) pump.receive(c);
    const want = concat(chunks);
    await until(() => got.reduce((n, b) => n + b.length, 0) === want.length);
    expect(sameBytes(concat(got), want)).toBe(true);
    expect(pump.stats.toNet).toBe(want.length);
    expect(pump.stats.fullRetries).toBe(0);
    pump.close();
    stack.close();
  });

  it('keeps a chunk that finds toNet full, retries it and counts the retries', async () => {
    const rings = createRingBuffers();
    const vm = vmRingEndpoint(rings);
    const prefill = pattern(TO_NET_CAPACITY - 10, 3);
    expect(vm.send(prefill)).toBe(true);
    const pump = pumpRings(rings, () => {});
    const a = pattern(5000, 4);
    const b = pattern(7, 5);
    pump.receive(a);
    pump.receive(b);
    await new Promise((r) => setTimeout(r, 60));
    expect(pump.stats.fullRetries).toBeGreaterThan(1);
    expect(pump.stats.toNet).toBe(0);
    // Now the stack starts reading: everything arrives, in order, nothing lost.
    const got: Uint8Array[] = [];
    const stack = attachStackToRings(rings, (x) => got.push(x.slice()));
    const want = concat([prefill, a, b]);
    await until(() => got.reduce((n, x) => n + x.length, 0) === want.length);
    expect(sameBytes(concat(got), want)).toBe(true);
    expect(pump.stats.toNet).toBe(a.length + b.length);
    pump.close();
    stack.close();
  });

  it('splits a chunk larger than the ring', async () => {
    const rings = createRingBuffers();
    const got: Uint8Array[] = [];
    const stack = attachStackToRings(rings, (b) => got.push(b.slice()));
    const pump = pumpRings(rings, () => {});
    const big = pattern(Math.floor(2.5 * TO_NET_CAPACITY), 11);
    pump.receive(big);
    await until(() => got.reduce((n, b) => n + b.length, 0) === big.length, 10_000);
    expect(sameBytes(concat(got), big)).toBe(true);
    pump.close();
    stack.close();
  });

  it('delivers fromNet bytes to the VM in order', async () => {
    const rings = createRingBuffers();
    const stack = attachStackToRings(rings, () => {});
    const got: Uint8Array[] = [];
    const pump = pumpRings(rings, (b) => got.push(b.slice()));
    const chunks = Array.from({ length: 50 }, (_, i) => pattern(100 + i * 3000, 100 + i));
    for (const c of chunks) stack.write(c);
    const want = concat(chunks);
    await until(() => got.reduce((n, b) => n + b.length, 0) === want.length, 10_000);
    expect(sameBytes(concat(got), want)).toBe(true);
    expect(pump.stats.fromNet).toBe(want.length);
    pump.close();
    stack.close();
  });

  it('stops both directions on close', async () => {
    const rings = createRingBuffers();
    const got: Uint8Array[] = [];
    const stack = attachStackToRings(rings, () => {});
    const pump = pumpRings(rings, (b) => got.push(b));
    pump.close();
    stack.write(Uint8Array.of(1, 2, 3));
    pump.receive(Uint8Array.of(4, 5, 6));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([]);
    expect(pump.stats.toNet).toBe(0);
    // The bytes are still in fromNet for whoever reads next.
    expect(vmRingEndpoint(rings).readable()).toBe(3);
    stack.close();
  });
});
