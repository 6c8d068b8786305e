// Bookkeeping shared by the cache implementations: the LRU index (sizes and last use of
// every entry) and digest checks. Internal: the public entry is ./index.ts.
import { createDigester, isDigest } from '../../oci/digest.js';
import type { CacheEntryInfo, PullCache } from '../../oci/types.js';
import type { ChunkCache } from '../../estargz/index.js';

export type EntryKind = CacheEntryInfo['kind'];

export function entryId(kind: EntryKind, key: string): string {
  return `${kind}:${key}`;
}

/** Sizes and last use of every entry, oldest first when asked for victims. */
export class LruIndex {
  readonly entries = new Map<string, CacheEntryInfo>();
  total = 0;

  get(kind: EntryKind, key: string): CacheEntryInfo | undefined {
    return this.entries.get(entryId(kind, key));
  }

  set(info: CacheEntryInfo): void {
    this.remove(info.kind, info.key);
    this.entries.set(entryId(info.kind, info.key), info);
    this.total += info.size;
  }

  touch(kind: EntryKind, key: string, now = Date.now()): CacheEntryInfo | undefined {
    const e = this.get(kind, key);
    if (e) e.lastUsed = Math.max(now, e.lastUsed);
    return e;
  }

  remove(kind: EntryKind, key: string): CacheEntryInfo | undefined {
    const id = entryId(kind, key);
    const e = this.entries.get(id);
    if (e) {
      this.entries.delete(id);
      this.total -= e.size;
    }
    return e;
  }

  /** Least recently used entries to drop (other than `keep`) until the total fits `maxBytes`; removed from the index. */
  evict(maxBytes: number, keep?: string): CacheEntryInfo[] {
    if (this.total <= maxBytes) return [];
    const out: CacheEntryInfo[] = [];
    const oldest = [...this.entries.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id, e] of oldest) {
      if (this.total <= maxBytes) break;
      if (id === keep) continue;
      this.remove(e.kind, e.key);
      out.push(e);
    }
    return out;
  }

  list(): CacheEntryInfo[] {
    return [...this.entries.values()].map((e) => ({ ...e })).sort((a, b) => b.lastUsed - a.lastUsed);
  }
}

/** `alg:hex` of `bytes` for the algorithm `digest` names; isomorphic (hash-wasm). */
export async function digestLike(digest: string, bytes: Uint8Array): Promise<string> {
  const d = await createDigester(digest);
  d.update(bytes);
  return d.digest();
}

/** True when `bytes` hash to `digest` (false for anything that is not a digest). */
export async function matchesDigest(digest: string, bytes: Uint8Array): Promise<boolean> {
  return isDigest(digest) && (await digestLike(digest, bytes)) === digest;
}

export { isDigest };

/** Default size limit: 4 GiB. */
export const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;

/** The cache as estargz's `ChunkCache` (decompressed chunks by chunk digest). */
export function chunkCacheOf(cache: PullCache): ChunkCache {
  return { get: (key) => cache.getChunk(key), put: (key, bytes) => cache.putChunk(key, bytes) };
}
