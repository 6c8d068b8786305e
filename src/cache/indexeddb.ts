// A PullCache in IndexedDB through idb-keyval: entry metadata (kind, size, last use,
// digest) in one store, bytes in another. Blobs are stored as parts of a few MiB, so a
// download never has to sit in memory whole. The stores are injectable for tests.
import { createStore, del, get, keys, set } from 'idb-keyval';
import { createDigester, isDigest } from '../../oci/digest.js';
import type { BlobSink, CacheEntryInfo, CachedManifest, Logger, PullCache } from '../../oci/types.js';
import { DEFAULT_MAX_BYTES, LruIndex, entryId, matchesDigest, type EntryKind } from './core.js';

/** The four idb-keyval functions, bound to one object store. */
export interface KeyValueStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  keys(): Promise<IDBValidKey[]>;
}

export interface IndexedDbCacheOptions {
  /** Database name prefix; default `imagemounter-cache` (`-meta` and `-data` databases). */
  name?: string;
  /** Total size limit in bytes; least recently used entries are evicted. Default 4 GiB. */
  maxBytes?: number;
  /** Bytes per stored blob part; default 4 MiB. */
  partBytes?: number;
  logger?: Logger;
  /** Replaces IndexedDB (tests). */
  stores?: { meta: KeyValueStore; data: KeyValueStore };
}

/** idb-keyval stores for `name`: one database each, since idb-keyval's createStore makes one store per database. */
export function idbKeyValueStores(name = 'imagemounter-cache'): { meta: KeyValueStore; data: KeyValueStore } {
  const bind = (db: string, storeName: string): KeyValueStore => {
    const store = createStore(db, storeName);
    return {
      get: (k) => get(k, store),
      set: (k, v) => set(k, v, store),
      del: (k) => del(k, store),
      keys: () => keys(store),
    };
  };
  return { meta: bind(`${name}-meta`, 'meta'), data: bind(`${name}-data`, 'data') };
}

interface MetaRecord extends CacheEntryInfo {
  /** Blobs: number of parts in the data store, and the write that stored them. */
  parts?: number;
  write?: string;
  /** Manifests. */
  mediaType?: string;
  digest?: string;
  fetchedAt?: number;
}

const partKey = (digest: string, write: string, n: number) => `${entryId('blob', digest)}#${write}#${n}`;

export class IndexedDbCache implements PullCache {
  private readonly meta: KeyValueStore;
  private readonly data: KeyValueStore;
  private readonly maxBytes: number;
  private readonly partBytes: number;
  private readonly logger?: Logger;
  private index?: Promise<{ lru: LruIndex; records: Map<string, MetaRecord> }>;

  constructor(opts: IndexedDbCacheOptions = {}) {
    const stores = opts.stores ?? idbKeyValueStores(opts.name);
    this.meta = stores.meta;
    this.data = stores.data;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.partBytes = opts.partBytes ?? 4 * 1024 * 1024;
    if (opts.logger) this.logger = opts.logger;
  }

  private load() {
    this.index ??= (async () => {
      const lru = new LruIndex();
      const records = new Map<string, MetaRecord>();
      for (const k of await this.meta.keys()) {
        const r = (await this.meta.get(String(k))) as MetaRecord | undefined;
        if (r && typeof r.size === 'number') {
          records.set(String(k), r);
          lru.set({ kind: r.kind, key: r.key, size: r.size, lastUsed: r.lastUsed });
        }
      }
      return { lru, records };
    })();
    return this.index;
  }

  private async record(kind: EntryKind, key: string): Promise<MetaRecord | undefined> {
    const { lru, records } = await this.load();
    const r = records.get(entryId(kind, key));
    const e = r && lru.touch(kind, key);
    if (r && e) {
      r.lastUsed = e.lastUsed;
      void this.meta.set(entryId(kind, key), r).catch(() => {});
    }
    return r;
  }

  private async add(r: MetaRecord): Promise<void> {
    const { lru, records } = await this.load();
    const id = entryId(r.kind, r.key);
    if (records.has(id)) await this.remove(r.kind, r.key);
    await this.meta.set(id, r);
    records.set(id, r);
    lru.set({ kind: r.kind, key: r.key, size: r.size, lastUsed: r.lastUsed });
    for (const v of lru.evict(this.maxBytes, id)) await this.remove(v.kind, v.key);
  }

  private async remove(kind: EntryKind, key: string): Promise<void> {
    const { lru, records } = await this.load();
    const id = entryId(kind, key);
    const r = records.get(id);
    records.delete(id);
    lru.remove(kind, key);
    await this.meta.del(id);
    if (kind === 'blob') {
      for (let n = 0; n < (r?.parts ?? 0); n++) await this.data.del(partKey(key, r?.write ?? '', n));
    } else {
      await this.data.del(id);
    }
  }

  private corrupt(kind: EntryKind, key: string): Promise<undefined> {
    this.logger?.warn?.(`cache: ${kind} ${key} is corrupt; deleted it`);
    return this.remove(kind, key).then(() => undefined);
  }

  async getManifest(ref: string): Promise<CachedManifest | undefined> {
    const r = await this.record('manifest', ref);
    if (!r) return undefined;
    const bytes = await this.data.get(entryId('manifest', ref));
    if (!(bytes instanceof Uint8Array) || !r.digest || !(await matchesDigest(r.digest, bytes))) return this.corrupt('manifest', ref);
    return { bytes, mediaType: r.mediaType ?? '', digest: r.digest, fetchedAt: r.fetchedAt ?? 0 };
  }

  async putManifest(ref: string, entry: CachedManifest): Promise<void> {
    await this.data.set(entryId('manifest', ref), entry.bytes);
    await this.add({ kind: 'manifest', key: ref, size: entry.bytes.byteLength, lastUsed: Date.now(), mediaType: entry.mediaType, digest: entry.digest, fetchedAt: entry.fetchedAt });
  }

  async openBlob(digest: string): Promise<ReadableStream<Uint8Array> | undefined> {
    const r = await this.record('blob', digest);
    if (!r || !isDigest(digest)) return undefined;
    const parts = r.parts ?? 0;
    const part = async (n: number) => {
      const v = await this.data.get(partKey(digest, r.write ?? '', n));
      return v instanceof Uint8Array ? v : undefined;
    };
    // Verify all of it first, one part in memory at a time, so a bad entry is a miss.
    const d = await createDigester(digest);
    let size = 0;
    for (let n = 0; n < parts; n++) {
      const p = await part(n);
      if (!p) return this.corrupt('blob', digest);
      d.update(p);
      size += p.byteLength;
    }
    if (size !== r.size || d.digest() !== digest) return this.corrupt('blob', digest);
    let n = 0;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (n >= parts) return controller.close();
        const p = await part(n++);
        if (p) controller.enqueue(p);
        else controller.error(new Error(`cache: blob ${digest} part ${n - 1} vanished`));
      },
    });
  }

  async writeBlob(digest: string, size: number): Promise<BlobSink> {
    if (!isDigest(digest)) throw new Error(`cache: invalid digest ${digest}`);
    if (size > this.maxBytes) throw new Error(`blob of ${size} bytes exceeds the cache limit of ${this.maxBytes}`);
    const d = await createDigester(digest);
    // Parts are keyed by this write, so concurrent downloads of one blob never mix.
    const write = `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let parts = 0;
    let written = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const buf = new Uint8Array(pendingBytes);
      let off = 0;
      for (const c of pending) {
        buf.set(c, off);
        off += c.byteLength;
      }
      pending = [];
      pendingBytes = 0;
      // Unreachable until commit writes the metadata; abort deletes them.
      await this.data.set(partKey(digest, write, parts), buf);
      parts++;
    };
    const discard = async () => {
      for (let n = 0; n < parts; n++) await this.data.del(partKey(digest, write, n)).catch(() => {});
    };
    return {
      write: async (chunk) => {
        d.update(chunk);
        written += chunk.byteLength;
        pending.push(chunk.slice());
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= this.partBytes) await flush();
      },
      commit: async () => {
        await flush();
        const actual = d.digest();
        if (actual !== digest || written !== size) {
          await discard();
          throw new Error(`cache: blob ${digest}: wrote ${written} bytes hashing to ${actual}; discarded`);
        }
        await this.add({ kind: 'blob', key: digest, size, lastUsed: Date.now(), parts, write });
      },
      abort: discard,
    };
  }

  async getChunk(digest: string): Promise<Uint8Array | undefined> {
    const r = await this.record('chunk', digest);
    if (!r) return undefined;
    const bytes = await this.data.get(entryId('chunk', digest));
    if (!(bytes instanceof Uint8Array) || !(await matchesDigest(digest, bytes))) return this.corrupt('chunk', digest);
    return bytes;
  }

  async putChunk(digest: string, bytes: Uint8Array): Promise<void> {
    if (!(await matchesDigest(digest, bytes))) throw new Error(`cache: chunk does not hash to ${digest}`);
    await this.data.set(entryId('chunk', digest), bytes);
    await this.add({ kind: 'chunk', key: digest, size: bytes.byteLength, lastUsed: Date.now() });
  }

  async list(): Promise<CacheEntryInfo[]> {
    return (await this.load()).lru.list();
  }

  async delete(key: string): Promise<void> {
    for (const kind of ['manifest', 'blob', 'chunk'] as const) {
      if ((await this.load()).records.has(entryId(kind, key))) await this.remove(kind, key);
    }
  }

  async clear(): Promise<void> {
    for (const k of await this.meta.keys()) await this.meta.del(String(k));
    for (const k of await this.data.keys()) await this.data.del(String(k));
    this.index = undefined;
  }
}
