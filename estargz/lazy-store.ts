// A ContentStore over one lazily pulled eStargz / zstd:chunked layer. Every regular file
// owns [base, base+size) of a virtual offset space, split into the TOC's chunks; a read
// fetches the chunks it needs with HTTP Range requests (adjacent ones coalesced, a bounded
// number in flight, concurrent requests for one chunk merged), decompresses each member,
// verifies its chunkDigest and only then hands out bytes. Decompressed chunks are kept in
// an LRU bounded in bytes. Optionally a background pass (`backgroundFetch()`) fills that LRU
// with the rest of the layer at low priority: one request at a time, outside the demand
// reads' concurrency limit, started only while no demand read is fetching, stopped when
// the cache is full, the layer is done, or `close()` is called.

import { fetchBlobRange, type Descriptor, type PullOptions, type ResolvedImage } from '../oci/index.js';
import { createDigester } from '../oci/digest.js';
import { ImageError } from '../oci/errors.js';
import type { ContentStore } from '../src/fs/store.js';
import { decompressPrefix, type ChunkCompression } from './codec.js';

/** One chunk in the virtual space; its compressed extent in the blob is [blobOffset, blobEnd). */
export interface LazyChunk {
  vOffset: number;
  length: number;
  blobOffset: number;
  blobEnd: number;
  digest: string;
}

/**
 * A persistent cache of verified, decompressed chunks keyed by chunkDigest (e.g. IndexedDB
 * or a directory). Bytes from it are verified again before use. Optional; not implemented here.
 */
export interface ChunkCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
}

/** Network counters, shared by every lazy layer of one image. */
export interface LazyStats {
  /** HTTP Range requests made (footer, TOC, chunks, prefetch). */
  requests: number;
  /** Bytes those requests returned. */
  bytesFetched: number;
  /** Total size of the blobs opened lazily. */
  blobBytes: number;
}

export interface LazyStoreOptions extends PullOptions {
  stats?: LazyStats;
  /** Bytes of decompressed chunks kept in memory; default 64 MiB. */
  cacheBytes?: number;
  /** Range requests in flight per layer; default 4. */
  maxInFlight?: number;
  /** Largest coalesced request, in compressed bytes; default 8 MiB. */
  maxRequestBytes?: number;
  chunkCache?: ChunkCache;
}

export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export class LazyStore implements ContentStore {
  readonly size: number;
  private readonly lru = new Map<string, Uint8Array>();
  private lruBytes = 0;
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Demand runs (reads) being fetched; the background pass waits for 0. */
  private demand = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly stop = new AbortController();
  private background?: Promise<void>;

  /** `chunks` sorted by vOffset and contiguous from 0. */
  constructor(
    private readonly image: ResolvedImage,
    private readonly desc: Descriptor,
    private readonly kind: ChunkCompression,
    private readonly chunks: readonly LazyChunk[],
    private readonly opts: LazyStoreOptions = {},
  ) {
    const last = chunks[chunks.length - 1];
    this.size = last ? last.vOffset + last.length : 0;
  }

  append(): number {
    throw new Error(`the lazy store of layer ${this.desc.digest} is read-only`);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read [${offset}, ${offset + length}) outside lazy store of ${this.size} bytes`);
    }
    if (length === 0) return new Uint8Array(0);
    const first = this.chunkAt(offset);
    let last = first;
    while (last + 1 < this.chunks.length && this.chunks[last + 1]!.vOffset < offset + length) last++;
    const parts = await this.load(first, last);
    if (parts.length === 1) {
      const at = offset - this.chunks[first]!.vOffset;
      return parts[0]!.subarray(at, at + length);
    }
    const out = new Uint8Array(length);
    parts.forEach((bytes, k) => {
      const c = this.chunks[first + k]!;
      const from = Math.max(offset, c.vOffset);
      const to = Math.min(offset + length, c.vOffset + c.length);
      out.set(bytes.subarray(from - c.vOffset, to - c.vOffset), from - offset);
    });
    return out;
  }

  /**
   * Fetch the blob range [start, end) with one request and fill the cache with every
   * chunk whose extent lies inside it (the prioritized files before a prefetch landmark).
   */
  async prefetch(start: number, end: number): Promise<void> {
    const ids = this.chunks.flatMap((c, i) => (c.blobOffset >= start && c.blobEnd <= end && !this.lru.has(c.digest) && !this.inflight.has(i) ? [i] : []));
    if (ids.length === 0) return;
    const data = this.limited(() => this.fetch(start, end));
    const done = ids.map((i) =>
      this.track(i, async () => {
        const c = this.chunks[i]!;
        const bytes = await data;
        return this.verified(i, bytes.subarray(c.blobOffset - start, c.blobEnd - start));
      }),
    );
    await Promise.all(done);
  }

  /**
   * Fetch every chunk not cached yet, in blob order, one coalesced request (up to
   * `maxRequestBytes`) at a time and only while no demand read is fetching, until the
   * cache's byte bound would be exceeded or `close()`. Never rejects (failures are logged
   * and end the pass); calling it again returns the same pass.
   */
  backgroundFetch(): Promise<void> {
    this.background ??= this.runBackground().catch((e: unknown) => {
      if (this.closed) return;
      this.opts.logger?.warn?.(`layer ${this.desc.digest}: background fetch stopped: ${e instanceof Error ? e.message : String(e)}`);
    });
    return this.background;
  }

  /** Stop the background pass (aborting its request in flight). Demand reads keep working. */
  close(): Promise<void> {
    this.closed = true;
    this.stop.abort(new DOMException('lazy store closed', 'AbortError'));
    this.wakeIdle(true);
    return this.background ?? Promise.resolve();
  }

  private async runBackground(): Promise<void> {
    const order = this.chunks.map((_, i) => i).sort((a, b) => this.chunks[a]!.blobOffset - this.chunks[b]!.blobOffset);
    const max = this.opts.maxRequestBytes ?? 8 * 1024 * 1024;
    const cacheMax = this.opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    const signal = this.stop.signal;
    const parent = this.opts.signal;
    if (parent) {
      if (parent.aborted) return;
      parent.addEventListener('abort', () => void this.close(), { once: true });
    }
    let k = 0;
    while (!this.closed) {
      while (this.demand > 0 && !this.closed) await new Promise<void>((r) => this.idleWaiters.push(r));
      if (this.closed) return;
      // The next run: consecutive uncached chunks whose extents touch, within the request and cache bounds.
      const run: number[] = [];
      let bytes = 0;
      const room = cacheMax - this.lruBytes;
      for (; k < order.length; k++) {
        const i = order[k]!;
        const c = this.chunks[i]!;
        if (this.lru.has(c.digest) || this.inflight.has(i)) {
          if (run.length) break;
          continue;
        }
        const prev = run.length ? this.chunks[run[run.length - 1]!]! : undefined;
        if (prev && (prev.blobEnd !== c.blobOffset || c.blobEnd - this.chunks[run[0]!]!.blobOffset > max)) break;
        if (bytes + c.length > room) {
          if (!run.length) return; // the cache is full: more would only evict
          break;
        }
        run.push(i);
        bytes += c.length;
      }
      if (!run.length) return;
      const start = this.chunks[run[0]!]!.blobOffset;
      const end = this.chunks[run[run.length - 1]!]!.blobEnd;
      const data = this.fetch(start, end, signal);
      // Registered as in flight, so a demand read of one of these chunks joins this request.
      await Promise.all(
        run.map((i) =>
          this.track(i, async () => {
            const c = this.chunks[i]!;
            const all = await data;
            return this.verified(i, all.subarray(c.blobOffset - start, c.blobEnd - start), true);
          }),
        ),
      );
      // Let demand reads queued meanwhile start first.
      await new Promise<void>((r) => setTimeout(r, 0));
    }
  }

  private wakeIdle(force = false): void {
    if (this.demand > 0 && !force) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  /** Index of the chunk holding virtual offset `offset` (binary search). */
  private chunkAt(offset: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]!.vOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Bytes of chunks first..last, fetching the missing ones in coalesced runs. */
  private load(first: number, last: number): Promise<Uint8Array[]> {
    const out: Promise<Uint8Array>[] = [];
    const missing: number[] = [];
    for (let i = first; i <= last; i++) {
      const c = this.chunks[i]!;
      const hit = this.lru.get(c.digest);
      if (hit) this.touch(c.digest, hit);
      const p = hit ? Promise.resolve(hit) : this.inflight.get(i);
      if (p) out[i - first] = p;
      else missing.push(i);
    }
    const max = this.opts.maxRequestBytes ?? 8 * 1024 * 1024;
    let run: number[] = [];
    for (const i of missing) {
      const c = this.chunks[i]!;
      const head = run[0] === undefined ? undefined : this.chunks[run[0]]!;
      const prev = this.chunks[run[run.length - 1] ?? -1];
      if (head && prev && (prev.blobEnd !== c.blobOffset || c.blobEnd - head.blobOffset > max)) {
        this.fetchRun(run);
        run = [];
      }
      run.push(i);
    }
    if (run.length > 0) this.fetchRun(run);
    // fetchRun registered every missing chunk synchronously, so a concurrent read of the
    // same chunk joins these requests instead of making its own.
    for (const i of missing) out[i - first] = this.inflight.get(i)!;
    return Promise.all(out);
  }

  /** One Range request for consecutive chunks whose extents touch. */
  private fetchRun(run: number[]): void {
    const start = this.chunks[run[0]!]!.blobOffset;
    const end = this.chunks[run[run.length - 1]!]!.blobEnd;
    let data: Promise<Uint8Array> | undefined;
    const getData = () => (data ??= this.limited(() => this.fetch(start, end)));
    this.demand++;
    const tracked = run.map((i) =>
      this.track(i, async () => {
        const c = this.chunks[i]!;
        const cached = await this.opts.chunkCache?.get(c.digest).catch(() => undefined);
        if (cached && cached.length === c.length && (await this.digestOf(cached)) === c.digest) return cached;
        const bytes = await getData();
        return this.verified(i, bytes.subarray(c.blobOffset - start, c.blobEnd - start), true);
      }),
    );
    void Promise.allSettled(tracked).then(() => {
      this.demand--;
      this.wakeIdle();
    });
  }

  /** Register the in-flight promise of chunk `i`; on success it moves to the LRU. */
  private track(i: number, work: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const p = work().then(
      (bytes) => {
        this.inflight.delete(i);
        this.remember(this.chunks[i]!.digest, bytes);
        return bytes;
      },
      (e: unknown) => {
        this.inflight.delete(i);
        throw e;
      },
    );
    this.inflight.set(i, p);
    p.catch(() => {}); // callers observe it; avoid unhandled rejections for prefetch-only chunks
    return p;
  }

  /** Decompress chunk `i` from its compressed extent and check its digest. */
  private async verified(i: number, extent: Uint8Array, persist = false): Promise<Uint8Array> {
    const c = this.chunks[i]!;
    const what = `chunk at blob offset ${c.blobOffset} of layer ${this.desc.digest}`;
    const bytes = decompressPrefix(this.kind, extent, c.length, what);
    const actual = await this.digestOf(bytes);
    if (actual !== c.digest) {
      throw new ImageError('DIGEST_MISMATCH', `${what}: chunkDigest is ${c.digest} but the data hashes to ${actual}`);
    }
    if (persist) await this.opts.chunkCache?.put(c.digest, bytes).catch(() => {});
    return bytes;
  }

  private async digestOf(bytes: Uint8Array): Promise<string> {
    const d = await createDigester('sha256:' + '0'.repeat(64), this.opts.codecs);
    d.update(bytes);
    return d.digest();
  }

  private async fetch(start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
    const stats = this.opts.stats;
    if (stats) stats.requests++;
    const bytes = await fetchBlobRange(this.image, this.desc, start, end, signal ? { ...this.opts, signal } : this.opts);
    if (stats) stats.bytesFetched += bytes.length;
    return bytes;
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    const max = this.opts.maxInFlight ?? 4;
    while (this.active >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private remember(key: string, bytes: Uint8Array): void {
    const max = this.opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (bytes.length > max || this.lru.has(key)) return;
    this.lru.set(key, bytes);
    this.lruBytes += bytes.length;
    for (const [k, v] of this.lru) {
      if (this.lruBytes <= max) break;
      this.lru.delete(k);
      this.lruBytes -= v.length;
    }
  }

  private touch(key: string, bytes: Uint8Array): void {
    this.lru.delete(key);
    this.lru.set(key, bytes);
  }
}
