// Pull an OCI layout over HTTP with a directory cache, stop the server, pull again.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { manifestEntries, openImage, ImageError, type OpenImageOptions } from '../../src/index.js';
import { DirCache, createNodeFetch } from '../../src/node/index.js';
import { startStaticServer } from '../helpers/static-server.js';
import { FakeRegistry, utf8 } from '../oci/fake-registry.js';
import { T } from '../oci/images.js';
import { tarOf } from '../fs/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'cache-offline-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function buildLayout(): Promise<{ dir: string; layers: string[] }> {
  const reg = new FakeRegistry();
  const layerBlobs = [
    gzipSync(await tarOf([{ name: 'etc/' }, { name: 'etc/hello', content: 'hello\n' }, { name: 'bin/' }])),
    gzipSync(await tarOf([{ name: 'etc/hello', content: 'hello again\n' }, { name: 'data', content: 'x'.repeat(200_000) }])),
  ];
  const layers = layerBlobs.map((b) => ({ mediaType: T.ociGzip, digest: reg.addBlob(b), size: b.length }));
  const configBytes = utf8(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [] } }));
  const config = { mediaType: T.ociConfig, digest: reg.addBlob(configBytes), size: configBytes.length };
  const manifest = reg.putManifest('x', undefined, { schemaVersion: 2, mediaType: T.ociManifest, config, layers }, T.ociManifest);
  const dir = join(root, 'layout');
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of reg.blobs) writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  writeFileSync(join(dir, 'blobs', 'sha256', manifest.digest.slice(7)), manifest.bytes);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const entry = { mediaType: T.ociManifest, digest: manifest.digest, size: manifest.size, annotations: { 'org.opencontainers.image.ref.name': 'v1' } };
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: T.ociIndex, manifests: [entry] }));
  return { dir, layers: layers.map((l) => l.digest) };
}

async function entriesOf(ref: string, opts: OpenImageOptions) {
  const m = await openImage(ref, opts);
  const out = [];
  for await (const e of manifestEntries(m.rootfs)) out.push(e);
  return { image: m.image, entries: out };
}

describe('offline pulls from a directory cache', () => {
  it('pulls once online, then again with the server gone; corrupt blobs are refetched or fail clearly', async () => {
    const { dir, layers } = await buildLayout();
    const server = await startStaticServer(dir);
    const cacheDir = join(root, 'cache');
    const warnings: string[] = [];
    const cache = new DirCache(cacheDir, { logger: { warn: (m) => warnings.push(m) } });
    const opts: OpenImageOptions = { fetch: createNodeFetch(), cache, retries: 1, retryDelayMs: 1, logger: { warn: (m) => warnings.push(m), info: (m) => warnings.push(m) } };
    const ref = `${server.url}#v1`;

    const online = await entriesOf(ref, opts);
    expect(online.image.fromCache).toBeUndefined();
    expect(online.entries.map((e) => e.path)).toContain('/etc/hello');
    for (const l of layers) expect(existsSync(join(cacheDir, 'blobs', 'sha256', l.slice(7)))).toBe(true);
    expect((await cache.list()).map((e) => e.kind).sort()).toEqual(['blob', 'blob', 'blob', 'manifest', 'manifest']);

    // Online again: blobs and the manifest come from the cache, only index.json is fetched.
    const before = server.log.length;
    await entriesOf(ref, opts);
    expect(server.log.slice(before).map((r) => r.path).sort()).toEqual(['/index.json', '/oci-layout']);

    // A corrupt cached layer while online: deleted and downloaded again.
    const layerFile = join(cacheDir, 'blobs', 'sha256', layers[1]!.slice(7));
    const bad = readFileSync(layerFile);
    bad[bad.length - 20] ^= 0xff;
    writeFileSync(layerFile, bad);
    const fixed = await entriesOf(ref, opts);
    expect(fixed.entries).toEqual(online.entries);
    expect(server.log.some((r) => r.path === `/blobs/sha256/${layers[1]!.slice(7)}`)).toBe(true);
    expect(warnings.some((w) => /corrupt/.test(w))).toBe(true);

    await server.stop();
    warnings.length = 0;
    const offline = await entriesOf(ref, opts);
    expect(offline.image.fromCache).toBe(true);
    expect(offline.entries).toEqual(online.entries);
    expect(warnings.join('\n')).toMatch(/offline .*using the cached copy from \d{4}-\d\d-\d\dT/);

    // Offline with a corrupt layer: a clear error naming the blob, after the cache said why.
    writeFileSync(layerFile, bad);
    warnings.length = 0;
    const e = await openImage(ref, opts).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(ImageError);
    expect((e as ImageError).code).toBe('NETWORK');
    expect((e as Error).message).toContain(layers[1]);
    expect(warnings.join('\n')).toMatch(/corrupt; deleted it/);
  });
});
