import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirCache, defaultCacheDir } from '../../src/node/index.js';
import type { PullCache } from '../../src/cache/index.js';

const root = mkdtempSync(join(tmpdir(), 'cache-dir-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (maxBytes?: number) => {
  const warnings: string[] = [];
  const dir = join(root, `c${n++}`);
  return { dir, warnings, cache: new DirCache(dir, { ...(maxBytes ? { maxBytes } : {}), logger: { warn: (m) => warnings.push(m) } }) };
};
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const bytes = (len: number, seed: number) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 255);

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

async function putBlob(cache: PullCache, data: Uint8Array, pieces = 3): Promise<string> {
  const digest = sha(data);
  const sink = await cache.writeBlob(digest, data.length);
  const step = Math.ceil(data.length / pieces);
  for (let i = 0; i < data.length; i += step) await sink.write(data.subarray(i, i + step));
  await sink.commit();
  return digest;
}

describe('DirCache', () => {
  it('defaults to $XDG_CACHE_HOME/imagemounter or ~/.cache/imagemounter', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/imagemounter');
    expect(defaultCacheDir({})).toMatch(/\.cache\/imagemounter$/);
  });

  it('stores and returns blobs, manifests and chunks, laid out as documented', async () => {
    const { cache, dir } = fresh();
    const blob = bytes(100_000, 1);
    const digest = await putBlob(cache, blob);
    expect(existsSync(join(dir, 'blobs', 'sha256', digest.slice(7)))).toBe(true);
    expect(await readAll((await cache.openBlob(digest))!)).toEqual(blob);

    const m = new TextEncoder().encode('{"schemaVersion":2}');
    await cache.putManifest('example.com/a:latest', { bytes: m, mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(m), fetchedAt: 1234 });
    const refHash = createHash('sha256').update('example.com/a:latest').digest('hex');
    expect(existsSync(join(dir, 'manifests', `${refHash}.json`))).toBe(true);
    expect(await cache.getManifest('example.com/a:latest')).toEqual({ bytes: m, mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(m), fetchedAt: 1234 });

    const chunk = bytes(500, 7);
    await cache.putChunk(sha(chunk), chunk);
    expect(await cache.getChunk(sha(chunk))).toEqual(chunk);

    expect(await cache.getManifest('nope')).toBeUndefined();
    expect(await cache.openBlob(sha(bytes(3, 3)))).toBeUndefined();
    expect((await cache.list()).map((e) => e.kind).sort()).toEqual(['blob', 'chunk', 'manifest']);
    // A second instance reads the same entries from index.json.
    const again = new DirCache(dir);
    expect((await again.list()).map((e) => [e.kind, e.key, e.size]).sort()).toEqual(
      [['blob', digest, 100_000], ['chunk', sha(chunk), 500], ['manifest', 'example.com/a:latest', m.length]].sort(),
    );
  });

  it('commits nothing when the digest does not match or the download is aborted', async () => {
    const { cache, dir } = fresh();
    const data = bytes(1000, 2);
    const sink = await cache.writeBlob(sha(bytes(1000, 3)), 1000);
    await sink.write(data);
    await expect(sink.commit()).rejects.toThrow(/discarded/);
    const aborted = await cache.writeBlob(sha(data), 1000);
    await aborted.write(data.subarray(0, 500));
    await aborted.abort();
    expect(await cache.openBlob(sha(data))).toBeUndefined();
    expect(await cache.list()).toEqual([]);
    expect(existsSync(join(dir, 'blobs', 'sha256'))).toBe(false);
    await expect(cache.putChunk(sha(data), bytes(1000, 9))).rejects.toThrow(/does not hash/);
  });

  it('treats a corrupt file as a miss and deletes it', async () => {
    const { cache, dir, warnings } = fresh();
    const digest = await putBlob(cache, bytes(5000, 4));
    const file = join(dir, 'blobs', 'sha256', digest.slice(7));
    const bad = readFileSync(file);
    bad[10] ^= 1;
    writeFileSync(file, bad);
    expect(await cache.openBlob(digest)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    expect(warnings.join('\n')).toMatch(/corrupt/);
    expect(await cache.list()).toEqual([]);

    const chunk = bytes(100, 5);
    await cache.putChunk(sha(chunk), chunk);
    writeFileSync(join(dir, 'chunks', 'sha256', sha(chunk).slice(7)), 'junk');
    expect(await cache.getChunk(sha(chunk))).toBeUndefined();

    const m = new TextEncoder().encode('{}');
    await cache.putManifest('r', { bytes: m, mediaType: 'x', digest: sha(m), fetchedAt: 1 });
    const mf = join(dir, 'manifests', `${createHash('sha256').update('r').digest('hex')}.json`);
    writeFileSync(mf, readFileSync(mf, 'utf8').replace(Buffer.from('{}').toString('base64'), Buffer.from('[]').toString('base64')));
    expect(await cache.getManifest('r')).toBeUndefined();
    expect(existsSync(mf)).toBe(false);
  });

  it('evicts least recently used entries beyond the size limit', async () => {
    const { cache } = fresh(25_000);
    const a = await putBlob(cache, bytes(10_000, 1));
    await new Promise((r) => setTimeout(r, 5));
    const b = await putBlob(cache, bytes(10_000, 2));
    await new Promise((r) => setTimeout(r, 5));
    await cache.openBlob(a); // a is now more recent than b
    await new Promise((r) => setTimeout(r, 5));
    const c = await putBlob(cache, bytes(10_000, 3));
    const keys = (await cache.list()).map((e) => e.key);
    expect(keys.sort()).toEqual([a, c].sort());
    expect(await cache.openBlob(b)).toBeUndefined();
    expect((await cache.list()).reduce((s, e) => s + e.size, 0)).toBeLessThanOrEqual(25_000);
    // Larger than the whole cache: refused up front.
    await expect(cache.writeBlob(sha(bytes(30_000, 1)), 30_000)).rejects.toThrow(/limit/);
  });

  it('deletes by key and clears', async () => {
    const { cache, dir } = fresh();
    const a = await putBlob(cache, bytes(100, 1));
    const b = await putBlob(cache, bytes(100, 2));
    await cache.delete(a);
    expect((await cache.list()).map((e) => e.key)).toEqual([b]);
    expect(await cache.openBlob(a)).toBeUndefined();
    await cache.clear();
    expect(await cache.list()).toEqual([]);
    expect(await cache.openBlob(b)).toBeUndefined();
    expect(existsSync(join(dir, 'blobs'))).toBe(false);
  });

  it('rebuilds its index from the files when index.json is lost', async () => {
    const { cache, dir } = fresh();
    const a = await putBlob(cache, bytes(300, 1));
    rmSync(join(dir, 'index.json'));
    const again = new DirCache(dir);
    expect((await again.list()).map((e) => [e.key, e.size])).toEqual([[a, 300]]);
  });
});
