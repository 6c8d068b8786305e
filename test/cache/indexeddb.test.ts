// The IndexedDB cache's logic, over an in-memory stand-in for the idb-keyval functions.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IndexedDbCache, type KeyValueStore } from '../../src/cache/index.js';

function memoryStore(): KeyValueStore & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    get: async (k) => map.get(k),
    set: async (k, v) => void map.set(k, v),
    del: async (k) => void map.delete(k),
    keys: async () => [...map.keys()],
  };
}
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const bytes = (len: number, seed: number) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 255);

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

function fresh(maxBytes = 1 << 30) {
  const stores = { meta: memoryStore(), data: memoryStore() };
  const warnings: string[] = [];
  return { stores, warnings, cache: new IndexedDbCache({ stores, maxBytes, partBytes: 1000, logger: { warn: (m) => warnings.push(m) } }) };
}

async function putBlob(cache: IndexedDbCache, data: Uint8Array): Promise<string> {
  const sink = await cache.writeBlob(sha(data), data.length);
  for (let i = 0; i < data.length; i += 700) await sink.write(data.subarray(i, i + 700));
  await sink.commit();
  return sha(data);
}

describe('IndexedDbCache (in-memory stores)', () => {
  it('stores blobs in parts, manifests and chunks, and reads them back', async () => {
    const { cache, stores } = fresh();
    const blob = bytes(4500, 1);
    const d = await putBlob(cache, blob);
    expect([...stores.data.map.keys()].filter((k) => k.startsWith('blob:')).length).toBe(4);
    expect(await readAll((await cache.openBlob(d))!)).toEqual(blob);
    const m = new TextEncoder().encode('{"a":1}');
    await cache.putManifest('r:latest', { bytes: m, mediaType: 't', digest: sha(m), fetchedAt: 5 });
    expect(await cache.getManifest('r:latest')).toEqual({ bytes: m, mediaType: 't', digest: sha(m), fetchedAt: 5 });
    const c = bytes(50, 2);
    await cache.putChunk(sha(c), c);
    expect(await cache.getChunk(sha(c))).toEqual(c);
    // A new instance over the same stores sees everything.
    const again = new IndexedDbCache({ stores });
    expect((await again.list()).map((e) => e.kind).sort()).toEqual(['blob', 'chunk', 'manifest']);
  });

  it('leaves nothing behind for a bad or aborted download', async () => {
    const { cache, stores } = fresh();
    const data = bytes(3000, 1);
    const bad = await cache.writeBlob(sha(bytes(3000, 2)), 3000);
    await bad.write(data);
    await expect(bad.commit()).rejects.toThrow(/discarded/);
    const aborted = await cache.writeBlob(sha(data), 3000);
    await aborted.write(data.subarray(0, 2500));
    await aborted.abort();
    expect(stores.data.map.size).toBe(0);
    expect(stores.meta.map.size).toBe(0);
  });

  it('deletes corrupt entries and reports a miss', async () => {
    const { cache, stores, warnings } = fresh();
    const d = await putBlob(cache, bytes(2500, 3));
    const key = [...stores.data.map.keys()].find((k) => k.endsWith('#1'))!;
    (stores.data.map.get(key) as Uint8Array)[0] ^= 1;
    expect(await cache.openBlob(d)).toBeUndefined();
    expect(stores.data.map.size).toBe(0);
    expect(warnings[0]).toMatch(/corrupt/);
    const c = bytes(10, 1);
    await cache.putChunk(sha(c), c);
    stores.data.map.set(`chunk:${sha(c)}`, bytes(10, 2));
    expect(await cache.getChunk(sha(c))).toBeUndefined();
  });

  it('evicts the least recently used beyond the limit, deletes and clears', async () => {
    const { cache, stores } = fresh(2500);
    const a = await putBlob(cache, bytes(1000, 1));
    await new Promise((r) => setTimeout(r, 3));
    const b = await putBlob(cache, bytes(1000, 2));
    await new Promise((r) => setTimeout(r, 3));
    await cache.openBlob(a);
    await new Promise((r) => setTimeout(r, 3));
    const c = await putBlob(cache, bytes(1000, 3));
    expect((await cache.list()).map((e) => e.key).sort()).toEqual([a, c].sort());
    expect(await cache.openBlob(b)).toBeUndefined();
    await cache.delete(a);
    expect((await cache.list()).map((e) => e.key)).toEqual([c]);
    await cache.clear();
    expect(await cache.list()).toEqual([]);
    expect(stores.data.map.size + stores.meta.map.size).toBe(0);
  });
});
