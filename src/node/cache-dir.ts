// A PullCache in a directory: blobs/<alg>/<hex>, chunks/<alg>/<hex>,
// manifests/<sha256 of ref>.json and index.json (sizes and last use, for LRU eviction).
// Every file is written to tmp/ and renamed into place, so readers never see a partial
// one; every read hashes the file again and deletes it if it no longer matches.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobSink, CacheEntryInfo, CachedManifest, Logger, PullCache } from '../../oci/types.js';
import { DEFAULT_MAX_BYTES, LruIndex, isDigest, type EntryKind } from '../cache/core.js';

export interface DirCacheOptions {
  /** Total size limit in bytes; least recently used entries are evicted. Default 4 GiB. */
  maxBytes?: number;
  logger?: Logger;
}

/** `$XDG_CACHE_HOME/imagemounter`, or `~/.cache/imagemounter`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'imagemounter');
}

interface ManifestFile {
  ref: string;
  mediaType: string;
  digest: string;
  fetchedAt: number;
  /** base64 */
  data: string;
}

function hashHex(algorithm: string, bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

function matches(digest: string, bytes: Uint8Array): boolean {
  if (!isDigest(digest)) return false;
  const [alg, hex] = digest.split(':') as [string, string];
  return hashHex(alg, bytes) === hex;
}

export class DirCache implements PullCache {
  private readonly maxBytes: number;
  private readonly logger?: Logger;
  private index?: Promise<LruIndex>;
  private saving?: Promise<void>;
  private dirty = false;

  constructor(
    readonly dir: string,
    opts: DirCacheOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    if (opts.logger) this.logger = opts.logger;
  }

  private path(kind: EntryKind, key: string): string {
    if (kind === 'manifest') return join(this.dir, 'manifests', `${hashHex('sha256', new TextEncoder().encode(key))}.json`);
    const [alg, hex] = key.split(':') as [string, string];
    return join(this.dir, kind === 'blob' ? 'blobs' : 'chunks', alg, hex);
  }

  private async tmpFile(): Promise<string> {
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    return join(this.dir, 'tmp', `${Date.now()}-${randomBytes(6).toString('hex')}`);
  }

  private async atomicWrite(file: string, bytes: Uint8Array | string): Promise<void> {
    const tmp = await this.tmpFile();
    try {
      await writeFile(tmp, bytes);
      await mkdir(join(file, '..'), { recursive: true });
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  private load(): Promise<LruIndex> {
    this.index ??= (async () => {
      const lru = new LruIndex();
      try {
        const j = JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as { entries?: CacheEntryInfo[] };
        for (const e of j.entries ?? []) lru.set(e);
      } catch {
        await this.rebuild(lru);
      }
      return lru;
    })();
    return this.index;
  }

  /** Without a readable index.json: recount what is on disk. */
  private async rebuild(lru: LruIndex): Promise<void> {
    const now = Date.now();
    for (const [kind, sub] of [['blob', 'blobs'], ['chunk', 'chunks']] as const) {
      for (const alg of await readdir(join(this.dir, sub)).catch(() => [] as string[])) {
        for (const hex of await readdir(join(this.dir, sub, alg)).catch(() => [] as string[])) {
          const st = await stat(join(this.dir, sub, alg, hex)).catch(() => undefined);
          if (st?.isFile()) lru.set({ kind, key: `${alg}:${hex}`, size: st.size, lastUsed: st.mtimeMs || now });
        }
      }
    }
    for (const name of await readdir(join(this.dir, 'manifests')).catch(() => [] as string[])) {
      try {
        const m = JSON.parse(await readFile(join(this.dir, 'manifests', name), 'utf8')) as ManifestFile;
        lru.set({ kind: 'manifest', key: m.ref, size: Buffer.from(m.data, 'base64').byteLength, lastUsed: m.fetchedAt || now });
      } catch {
        // Unreadable: not counted, and overwritten or cleared later.
      }
    }
  }

  /** Writes index.json (coalescing concurrent requests); resolves when written. */
  private save(): Promise<void> {
    this.dirty = true;
    this.saving ??= (async () => {
      try {
        while (this.dirty) {
          this.dirty = false;
          const lru = await this.load();
          await this.atomicWrite(join(this.dir, 'index.json'), JSON.stringify({ version: 1, entries: [...lru.entries.values()] }));
        }
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  /** Marks an entry used; the index is written in the background. */
  private async touch(kind: EntryKind, key: string): Promise<void> {
    (await this.load()).touch(kind, key);
    void this.save().catch(() => {});
  }

  private async added(info: CacheEntryInfo): Promise<void> {
    const lru = await this.load();
    lru.set(info);
    for (const v of lru.evict(this.maxBytes, `${info.kind}:${info.key}`)) await rm(this.path(v.kind, v.key), { force: true });
    await this.save();
  }

  private async remove(kind: EntryKind, key: string): Promise<void> {
    (await this.load()).remove(kind, key);
    await rm(this.path(kind, key), { force: true });
    await this.save();
  }

  private async corrupt(kind: EntryKind, key: string): Promise<undefined> {
    this.logger?.warn?.(`cache: ${kind} ${key} in ${this.dir} is corrupt; deleted it`);
    await this.remove(kind, key);
    return undefined;
  }

  async getManifest(ref: string): Promise<CachedManifest | undefined> {
    let text: string;
    try {
      text = await readFile(this.path('manifest', ref), 'utf8');
    } catch {
      return undefined;
    }
    let m: ManifestFile;
    try {
      m = JSON.parse(text) as ManifestFile;
    } catch {
      return this.corrupt('manifest', ref);
    }
    const bytes = new Uint8Array(Buffer.from(m.data ?? '', 'base64'));
    if (m.ref !== ref || !matches(m.digest, bytes)) return this.corrupt('manifest', ref);
    await this.touch('manifest', ref);
    return { bytes, mediaType: m.mediaType, digest: m.digest, fetchedAt: m.fetchedAt };
  }

  async putManifest(ref: string, entry: CachedManifest): Promise<void> {
    if (!matches(entry.digest, entry.bytes)) throw new Error(`cache: manifest ${ref} does not hash to ${entry.digest}`);
    const file: ManifestFile = { ref, mediaType: entry.mediaType, digest: entry.digest, fetchedAt: entry.fetchedAt, data: Buffer.from(entry.bytes).toString('base64') };
    await this.atomicWrite(this.path('manifest', ref), JSON.stringify(file));
    await this.added({ kind: 'manifest', key: ref, size: entry.bytes.byteLength, lastUsed: Date.now() });
  }

  async openBlob(digest: string): Promise<ReadableStream<Uint8Array> | undefined> {
    if (!isDigest(digest)) return undefined;
    const file = this.path('blob', digest);
    const [alg, hex] = digest.split(':') as [string, string];
    // Hash the whole file first (disk is fast), so a corrupt entry is a miss, not a failed stream.
    const h = createHash(alg);
    try {
      for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if ((await this.load()).get('blob', digest)) await this.remove('blob', digest);
        return undefined;
      }
      throw e;
    }
    if (h.digest('hex') !== hex) return this.corrupt('blob', digest);
    await this.touch('blob', digest);
    if (!(await this.load()).get('blob', digest)) {
      // On disk but not indexed (another process wrote it): count it.
      await this.added({ kind: 'blob', key: digest, size: (await stat(file)).size, lastUsed: Date.now() });
    }
    return Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
  }

  async writeBlob(digest: string, size: number): Promise<BlobSink> {
    if (!isDigest(digest)) throw new Error(`cache: invalid digest ${digest}`);
    if (size > this.maxBytes) throw new Error(`blob of ${size} bytes exceeds the cache limit of ${this.maxBytes}`);
    const [alg, hex] = digest.split(':') as [string, string];
    const tmp = await this.tmpFile();
    const fh = await open(tmp, 'wx');
    const h = createHash(alg);
    let written = 0;
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    const discard = async () => {
      await close().catch(() => {});
      await rm(tmp, { force: true });
    };
    return {
      write: async (chunk) => {
        h.update(chunk);
        written += chunk.byteLength;
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
      },
      commit: async () => {
        try {
          await fh.sync();
          await close();
          const actual = h.digest('hex');
          if (actual !== hex || written !== size) throw new Error(`cache: blob ${digest}: wrote ${written} bytes hashing to ${alg}:${actual}; discarded`);
          const file = this.path('blob', digest);
          await mkdir(join(file, '..'), { recursive: true });
          await rename(tmp, file);
        } catch (e) {
          await discard();
          throw e;
        }
        await this.added({ kind: 'blob', key: digest, size, lastUsed: Date.now() });
      },
      abort: discard,
    };
  }

  async getChunk(digest: string): Promise<Uint8Array | undefined> {
    if (!isDigest(digest)) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.path('chunk', digest)));
    } catch {
      return undefined;
    }
    if (!matches(digest, bytes)) return this.corrupt('chunk', digest);
    await this.touch('chunk', digest);
    return bytes;
  }

  async putChunk(digest: string, bytes: Uint8Array): Promise<void> {
    if (!matches(digest, bytes)) throw new Error(`cache: chunk does not hash to ${digest}`);
    await this.atomicWrite(this.path('chunk', digest), bytes);
    await this.added({ kind: 'chunk', key: digest, size: bytes.byteLength, lastUsed: Date.now() });
  }

  async list(): Promise<CacheEntryInfo[]> {
    return (await this.load()).list();
  }

  async delete(key: string): Promise<void> {
    const lru = await this.load();
    for (const kind of ['manifest', 'blob', 'chunk'] as const) {
      if (lru.get(kind, key) || (kind !== 'manifest' && isDigest(key))) await this.remove(kind, key);
    }
  }

  async clear(): Promise<void> {
    await this.saving?.catch(() => {});
    for (const sub of ['blobs', 'chunks', 'manifests', 'tmp', 'index.json']) await rm(join(this.dir, sub), { recursive: true, force: true });
    this.index = Promise.resolve(new LruIndex());
  }
}
