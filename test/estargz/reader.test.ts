// Lazy pulling behaviour: how little is fetched, request merging, caching, prefetch, and
// every way a hostile or broken blob / server must fail.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openLazyLayer, type LazyStats } from '../../estargz/index.js';
import { openImage, resolveImage, type MountedImage } from '../../src/index.js';
import { rejectsWith, recordingLogger } from '../oci/helpers.js';
import { blobInfo, countingFetch, craftBlob, fixtureLayout, fixturePath, HAVE_SHARED, sha256, writeLayout } from './helpers.js';

const SMALL = blobInfo('basic-smallchunks.esgz');
const smallBlob = readFileSync(fixturePath(SMALL.file));

/** The TOC entries of a gzip fixture, parsed independently with node:zlib. */
function tocOf(blob: Uint8Array, tocOffset: number, footer = 51): { name: string; type: string; offset?: number }[] {
  const tar = gunzipSync(blob.subarray(tocOffset, blob.length - footer));
  const size = Number.parseInt(tar.subarray(124, 136).toString().replace(/\0.*$/, '').trim(), 8);
  return JSON.parse(tar.subarray(512, 512 + size).toString()).entries;
}

const delta = (m: MountedImage, f: () => Promise<unknown>) => {
  const before = { ...m.lazy! };
  return f().then(() => ({ requests: m.lazy!.requests - before.requests, bytes: m.lazy!.bytesFetched - before.bytesFetched }));
};

describe('lazy reads', () => {
  it('reading one small file fetches a small fraction of the blob', async () => {
    const c = countingFetch();
    const m = await openImage(fixtureLayout(SMALL), { fetch: c.fetch });
    const setup = { ...m.lazy! };
    const node = m.rootfs.lookup('/etc/hostname')!;
    const d = await delta(m, () => m.rootfs.read(node, 0, node.size));
    expect(d.requests).toBe(1);
    expect(d.bytes).toBeLessThan(1024);
    expect(setup.requests).toBe(2);
    expect(setup.bytesFetched + d.bytes).toBeLessThan(SMALL.blobSize / 500);
    expect(c.requests).toBe(3);
    console.log(`etc/hostname: ${d.bytes} B for the file, ${setup.bytesFetched} B footer+TOC, blob ${SMALL.blobSize} B`);
  });

  it('merges concurrent reads of one chunk, coalesces adjacent chunks, and caches', async () => {
    const m = await openImage(fixtureLayout(SMALL), { fetch: countingFetch().fetch });
    const node = m.rootfs.lookup('/data/one-byte')!;
    const d1 = await delta(m, () => Promise.all([m.rootfs.read(node, 0, 1), m.rootfs.read(node, 0, 1)]));
    expect(d1.requests).toBe(1);
    const big = m.rootfs.lookup('/data/100k.bin')!; // 2 chunks whose members are adjacent
    const d2 = await delta(m, async () => expect(sha256(await m.rootfs.read(big, 0, big.size))).toBe(SMALL.entries.find((e) => e.path === 'data/100k.bin')!.sha256));
    expect(d2.requests).toBe(1);
    const d3 = await delta(m, () => Promise.all([m.rootfs.read(big, 5, 70_000), m.rootfs.read(node, 0, 1)]));
    expect(d3).toEqual({ requests: 0, bytes: 0 });
    // 80 chunks of 5m.bin: 5 MiB of members in one request (the limit is 8 MiB).
    const five = m.rootfs.lookup('/data/5m.bin')!;
    const d4 = await delta(m, () => m.rootfs.read(five, 0, five.size));
    expect(d4.requests).toBe(1);
  });

  it('a small cache refetches evicted chunks', async () => {
    const m = await openImage(fixtureLayout(SMALL), { fetch: countingFetch().fetch, lazyOptions: { cacheBytes: 70_000 } });
    const five = m.rootfs.lookup('/data/5m.bin')!;
    await m.rootfs.read(five, 0, 10);
    await m.rootfs.read(five, 65536 * 3, 10);
    expect((await delta(m, () => m.rootfs.read(five, 65536 * 3, 10))).requests).toBe(0);
    expect((await delta(m, () => m.rootfs.read(five, 0, 10))).requests).toBe(1);
  });

  it('a persistent ChunkCache hook is filled and then spares the request', async () => {
    const saved = new Map<string, Uint8Array>();
    const chunkCache = { get: async (k: string) => saved.get(k), put: async (k: string, b: Uint8Array) => void saved.set(k, b) };
    const read = async () => {
      const m = await openImage(fixtureLayout(SMALL), { fetch: countingFetch().fetch, lazyOptions: { chunkCache } });
      const node = m.rootfs.lookup('/etc/hostname')!;
      return delta(m, () => m.rootfs.read(node, 0, node.size));
    };
    expect((await read()).requests).toBe(1);
    expect(saved.size).toBe(1);
    expect((await read()).requests).toBe(0);
    // Poisoned entries are verified and ignored.
    for (const k of saved.keys()) saved.set(k, new Uint8Array(16));
    expect((await read()).requests).toBe(1);
  });

  it('a server that ignores Range still yields the right bytes', async () => {
    const c = countingFetch({ ignoreRange: true });
    const m = await openImage(fixtureLayout(blobInfo('whiteout.esgz')), { fetch: c.fetch });
    const m2 = await openImage(fixtureLayout(SMALL), { fetch: c.fetch });
    const node = m2.rootfs.lookup('/etc/hostname')!;
    expect(sha256(await m2.rootfs.read(node, 0, node.size))).toBe(SMALL.entries.find((e) => e.path === 'etc/hostname')!.sha256);
    expect(m.rootfs.lookup('/opt/app')?.type).toBe('dir');
  });

  it('without a toc.digest annotation: warns once, still verifies chunks', async () => {
    const image = await resolveImage(writeLayout(smallBlob), { fetch: countingFetch().fetch });
    const { logger, warnings } = recordingLogger();
    const layer = await openLazyLayer(image, image.layers[0]!, { logger });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no containerd.io\/snapshot\/stargz\/toc.digest/);
    expect(layer!.entries.some((e) => e.name === 'etc/hostname')).toBe(true);
    // openImage pulls an unannotated layer whole (no probe); this blob is a valid gzip tar.
    const m = await openImage(writeLayout(smallBlob, { diffID: SMALL.diffID }), { fetch: countingFetch().fetch });
    expect(m.lazy).toBeUndefined();
  });

  it('not eStargz: openLazyLayer resolves undefined', async () => {
    const image = await resolveImage(writeLayout(gunzipSync(smallBlob).subarray(0, 4096)), { fetch: countingFetch().fetch });
    expect(await openLazyLayer(image, image.layers[0]!)).toBeUndefined();
  });

  it.runIf(HAVE_SHARED)('prefetches the prioritized files in the background', async () => {
    const info = blobInfo('basic-prefetch.esgz');
    const image = await resolveImage(fixtureLayout(info), { fetch: countingFetch().fetch });
    const stats: LazyStats = { requests: 0, bytesFetched: 0, blobBytes: 0 };
    const layer = (await openLazyLayer(image, image.layers[0]!, { stats }))!;
    expect(layer.prefetched).toBeDefined();
    await layer.prefetched;
    expect(stats.requests).toBe(3);
    const entry = layer.entries.find((e) => e.name === 'data/100k.bin')!;
    const before = stats.requests;
    expect(sha256(await layer.store.read(entry.content!.offset, entry.size))).toBe(info.entries.find((e) => e.path === 'data/100k.bin')!.sha256);
    expect(stats.requests).toBe(before);
    const none = (await openLazyLayer(image, image.layers[0]!, { prefetch: false }))!;
    expect(none.prefetched).toBeUndefined();
  });
});

describe('bad input', () => {
  it('a wrong toc.digest annotation is DIGEST_MISMATCH naming layer and both digests', async () => {
    const wrong = 'sha256:' + '1'.repeat(64);
    const dir = fixtureLayout({ ...SMALL, annotations: { ...SMALL.annotations, 'containerd.io/snapshot/stargz/toc.digest': wrong } });
    const e = await rejectsWith(openImage(dir, { fetch: countingFetch().fetch }), 'DIGEST_MISMATCH');
    for (const s of [wrong, SMALL.tocDigest, SMALL.blobDigest]) expect(e.message).toContain(s);
  });

  it('a corrupted chunk fails that file only', async () => {
    const entry = tocOf(smallBlob, SMALL.tocOffset).find((e) => e.name === 'data/100k.bin')!;
    const bad = Buffer.from(smallBlob);
    bad[entry.offset! + 30] ^= 0x55;
    const m = await openImage(fixtureLayout(SMALL, bad), { fetch: countingFetch().fetch });
    const node = m.rootfs.lookup('/data/100k.bin')!;
    const e = await m.rootfs.read(node, 0, 10).then(() => undefined, (x: unknown) => x as { code: string });
    expect(['DIGEST_MISMATCH', 'BAD_TAR']).toContain(e?.code);
    const ok = m.rootfs.lookup('/etc/hostname')!;
    expect(sha256(await m.rootfs.read(ok, 0, ok.size))).toBe(SMALL.entries.find((x) => x.path === 'etc/hostname')!.sha256);
    // The second chunk of the same file lives in another member and still reads.
    expect((await m.rootfs.read(node, 65536, 100)).length).toBe(100);
  });

  it('a chunk whose data does not match its chunkDigest is DIGEST_MISMATCH', async () => {
    const { blob, tocDigest } = craftBlob([{ name: 'a', data: Buffer.from('hello') }, { name: 'b', data: Buffer.from('world') }], (entries) => {
      entries[0]!.chunkDigest = sha256(Buffer.from('HELLO'));
    });
    const m = await openImage(writeLayout(blob, { annotations: { 'containerd.io/snapshot/stargz/toc.digest': tocDigest } }), { fetch: countingFetch().fetch });
    await rejectsWith(m.rootfs.read(m.rootfs.lookup('/a')!, 0, 5), 'DIGEST_MISMATCH', /chunkDigest/);
    expect(Buffer.from(await m.rootfs.read(m.rootfs.lookup('/b')!, 0, 5)).toString()).toBe('world');
  });

  it('a truncated blob is a clear error', async () => {
    // The manifest claims the full size; the stored blob lost its last bytes.
    for (const cut of [1000, 20]) {
      const dir = fixtureLayout(SMALL, smallBlob.subarray(0, smallBlob.length - cut));
      const e = await openImage(dir, { fetch: countingFetch().fetch }).then(() => undefined, (x: unknown) => x as Error & { code: string });
      expect(e?.code).toMatch(/TRUNCATED|HTTP_ERROR/);
      expect(e?.message).toContain(SMALL.blobDigest);
    }
  });

  it('a TOC naming ../ paths is BAD_PATH', async () => {
    const { blob, tocDigest } = craftBlob([{ name: '../../etc/evil', data: Buffer.from('x') }]);
    await rejectsWith(openImage(writeLayout(blob, { annotations: { 'containerd.io/snapshot/stargz/toc.digest': tocDigest } }), { fetch: countingFetch().fetch }), 'BAD_PATH');
  });

  it('chunk offsets outside the blob are refused', async () => {
    const { blob, tocDigest } = craftBlob([{ name: 'a', data: Buffer.from('hello') }], (entries, tocOffset) => {
      entries[0]!.offset = tocOffset + 10_000;
    });
    await rejectsWith(openImage(writeLayout(blob, { annotations: { 'containerd.io/snapshot/stargz/toc.digest': tocDigest } }), { fetch: countingFetch().fetch }), 'BAD_TAR', /offset .* not inside/);
  });

  it('malformed TOCs are refused', async () => {
    const cases: ((entries: Record<string, unknown>[]) => void)[] = [
      (es) => void (es[0]!.size = -1),
      (es) => void (es[0]!.type = 'weird'),
      (es) => void es.unshift({ name: 'x', type: 'chunk', offset: 0, chunkDigest: sha256(Buffer.from('')) }),
      (es) => void (es[0]!.chunkSize = 2), // chunks cover 2 of 5 bytes
      (es) => void delete es[0]!.chunkDigest,
    ];
    for (const edit of cases) {
      const { blob, tocDigest } = craftBlob([{ name: 'a', data: Buffer.from('hello') }], edit);
      const image = await resolveImage(writeLayout(blob), { fetch: countingFetch().fetch });
      await rejectsWith(openLazyLayer(image, { ...image.layers[0]!, annotations: { 'containerd.io/snapshot/stargz/toc.digest': tocDigest } }), 'BAD_TAR');
    }
  });
});
