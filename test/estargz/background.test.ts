// Background fetch of lazy layers: fills the chunk cache at low priority after TOC and
// prefetch, one request at a time, never in the way of demand reads, stoppable, off by default.
import { describe, expect, it } from 'vitest';
import { openLazyLayer, type LazyLayer, type LazyStats } from '../../estargz/index.js';
import { openImage, resolveImage } from '../../src/index.js';
import { blobInfo, countingFetch, fixtureLayout, gatedFetch, sha256, type Counter } from './helpers.js';

const SMALL = blobInfo('basic-smallchunks.esgz');
const newStats = (): LazyStats => ({ requests: 0, bytesFetched: 0, blobBytes: 0 });
const tick = () => new Promise((r) => setTimeout(r, 30));

/** [start, end] of every `bytes=a-b` range after the first `skip`. */
const spans = (c: Counter, skip = 2) => c.ranges.slice(skip).map((r) => r.slice(6).split('-').map(Number) as [number, number]);

async function readAll(layer: LazyLayer): Promise<void> {
  for (const e of layer.entries) {
    if (!e.content) continue;
    const want = SMALL.entries.find((m) => m.path === e.name)!.sha256;
    expect(sha256(await layer.store.read(e.content.offset, e.size)), e.name).toBe(want);
  }
}

describe('background fetch', () => {
  it('fetches every chunk once, in bounded requests; later reads need no request', async () => {
    const c = countingFetch();
    const image = await resolveImage(fixtureLayout(SMALL), { fetch: c.fetch });
    const stats = newStats();
    const layer = (await openLazyLayer(image, image.layers[0]!, { stats, backgroundFetch: true, maxRequestBytes: 1 << 20 }))!;
    expect(layer.background).toBeDefined();
    await layer.background;
    const bg = spans(c);
    expect(bg.length).toBeGreaterThan(4); // 5 MiB of members in requests of at most 1 MiB
    for (const [a, b] of bg) expect(b - a + 1).toBeLessThanOrEqual(1 << 20);
    // No byte fetched twice.
    const sorted = [...bg].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]![0]).toBeGreaterThan(sorted[i - 1]![1]);
    expect(stats.bytesFetched).toBeLessThanOrEqual(SMALL.blobSize);
    const before = stats.requests;
    await readAll(layer);
    expect(stats.requests).toBe(before);
    expect(await layer.store.backgroundFetch()).toBeUndefined(); // the same finished pass
    expect(stats.requests).toBe(before);
  });

  it('a demand read during the background pass is not queued behind it', async () => {
    const g = gatedFetch();
    const image = await resolveImage(fixtureLayout(SMALL), { fetch: g.fetch });
    const stats = newStats();
    const layer = (await openLazyLayer(image, image.layers[0]!, { stats, maxRequestBytes: 256 * 1024 }))!;
    expect(layer.background).toBeUndefined();
    const events: string[] = [];
    g.holdNext();
    const bg = layer.store.backgroundFetch().then(() => events.push('background done'));
    const heldRange = await g.held; // the first background request is now in flight, stuck
    events.push('background request held');
    // The last bytes of data/5m.bin lie far beyond the first 256 KiB background run.
    const five = layer.entries.find((e) => e.name === 'data/5m.bin')!;
    const bytes = await layer.store.read(five.content!.offset + five.size - 100, 100);
    events.push('demand read done');
    expect(bytes).toHaveLength(100);
    await tick();
    // While the background request is held, it made no other request: at most 1 in flight.
    // (a held request reaches the counter only once released)
    expect(g.ranges).not.toContain(heldRange);
    expect(g.ranges.length).toBe(3); // footer, TOC, demand read
    g.release();
    await bg;
    expect(g.ranges[3]).toBe(heldRange);
    expect(events).toEqual(['background request held', 'demand read done', 'background done']);
    const before = stats.requests;
    await readAll(layer);
    expect(stats.requests).toBe(before);
  });

  it('stops when the chunk cache is full', async () => {
    const c = countingFetch();
    const image = await resolveImage(fixtureLayout(SMALL), { fetch: c.fetch });
    const stats = newStats();
    const layer = (await openLazyLayer(image, image.layers[0]!, { stats, backgroundFetch: true, cacheBytes: 300_000 }))!;
    const setup = stats.bytesFetched;
    await layer.background;
    expect(stats.bytesFetched - setup).toBeGreaterThan(0);
    expect(stats.bytesFetched - setup).toBeLessThan(400_000); // far from the 5 MiB blob
  });

  it('close() stops the pass; aborting backgroundSignal does too', async () => {
    const g = gatedFetch();
    const image = await resolveImage(fixtureLayout(SMALL), { fetch: g.fetch });
    const stats = newStats();
    const layer = (await openLazyLayer(image, image.layers[0]!, { stats, maxRequestBytes: 256 * 1024 }))!;
    g.holdNext();
    const bg = layer.store.backgroundFetch();
    await g.held;
    const closed = layer.close();
    g.release();
    await closed;
    await bg;
    const after = stats.requests;
    await tick();
    expect(stats.requests).toBe(after);
    expect(after).toBe(3);
    // Demand reads still work after close().
    const host = layer.entries.find((e) => e.name === 'etc/hostname')!;
    expect(sha256(await layer.store.read(host.content!.offset, host.size))).toBe(SMALL.entries.find((e) => e.path === 'etc/hostname')!.sha256);

    const stop = new AbortController();
    stop.abort();
    const stats2 = newStats();
    const l2 = (await openLazyLayer(image, image.layers[0]!, { stats: stats2, backgroundFetch: true, backgroundSignal: stop.signal }))!;
    await l2.background;
    expect(stats2.requests).toBe(2);
  });

  it('off by default: nothing beyond footer and TOC is fetched', async () => {
    const c = countingFetch();
    const m = await openImage(fixtureLayout(SMALL), { fetch: c.fetch });
    const setup = m.lazy!.requests;
    await tick();
    expect(m.lazy!.requests).toBe(setup);
    expect(c.requests).toBe(setup);
    const on = await openImage(fixtureLayout(SMALL), { fetch: countingFetch().fetch, lazyOptions: { backgroundFetch: true } });
    await new Promise((r) => setTimeout(r, 500));
    expect(on.lazy!.bytesFetched).toBeGreaterThan(SMALL.blobSize / 2);
  });
});
