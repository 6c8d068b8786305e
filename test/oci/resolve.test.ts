import { describe, expect, it } from 'vitest';
import { openBlob, openLayer, resolveImage } from '../../oci/index.js';
import { FakeRegistry, sha256, utf8 } from './fake-registry.js';
import { collect, fast, rejectsWith } from './helpers.js';
import { T, pushImage, pushMultiPlatform } from './images.js';

describe('resolveImage against a registry', () => {
  it('resolves a single-platform OCI image and streams its layers', async () => {
    const reg = new FakeRegistry();
    const img = pushImage(reg, 'app', 'v1');
    const image = await resolveImage('127.0.0.1:5000/app:v1', { fetch: reg.fetch, ...fast });
    expect(image.reference).toMatchObject({ kind: 'registry', registry: '127.0.0.1:5000', repository: 'app', tag: 'v1' });
    expect(image.indexDigest).toBeUndefined();
    expect(image.manifestDigest).toBe(img.manifest.digest);
    expect(image.manifestMediaType).toBe(T.ociManifest);
    expect(Buffer.from(image.manifestBytes)).toEqual(Buffer.from(img.manifest.bytes));
    expect(image.configDigest).toBe(img.configDigest);
    expect(Buffer.from(image.configBytes)).toEqual(Buffer.from(img.configBytes));
    expect(image.config.config?.Cmd).toEqual(['/bin/sh']);
    expect(image.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(image.availablePlatforms).toEqual([image.platform]);
    expect(image.layers).toEqual(img.layers);
    const accept = reg.requests(/manifests\/v1$/)[0]!.headers.get('accept')!;
    for (const t of [T.ociIndex, T.ociManifest, T.dockerList, T.dockerManifest]) expect(accept).toContain(t);

    for (const [i, layer] of image.layers.entries()) {
      expect(await collect(openLayer(image, layer))).toEqual(Buffer.from(img.plain[i]!));
      const raw = await collect(openBlob(image, layer));
      expect(sha256(raw)).toBe(layer.digest);
    }
  });

  it('resolves by digest and reports progress', async () => {
    const reg = new FakeRegistry();
    const img = pushImage(reg, 'app', undefined);
    const image = await resolveImage(`127.0.0.1:5000/app@${img.manifest.digest}`, { fetch: reg.fetch });
    expect(image.manifestDigest).toBe(img.manifest.digest);
    const seen: number[] = [];
    await collect(openBlob(image, image.layers[0]!, { onProgress: (p) => seen.push(p.loaded) }));
    expect(seen.at(-1)).toBe(image.layers[0]!.size);
  });

  it.each([
    ['linux/amd64', 0],
    ['linux/arm64', 1],
    ['linux/arm64/v8', 1],
    ['linux/riscv64', 2],
  ])('selects %s from a multi-platform OCI index', async (platform, which) => {
    const reg = new FakeRegistry();
    const { index, images, platforms } = pushMultiPlatform(reg, 'multi', 'latest');
    const image = await resolveImage('127.0.0.1:5000/multi', { fetch: reg.fetch, platform });
    expect(image.indexDigest).toBe(index.digest);
    expect(image.manifestDigest).toBe(images[which]!.manifest.digest);
    expect(image.platform).toEqual(platforms[which]);
    expect(image.availablePlatforms).toEqual(platforms); // no unknown/unknown attestation
    // The platform manifest was fetched by digest, not by tag.
    expect(reg.requests(new RegExp(`manifests/${images[which]!.manifest.digest}$`))).toHaveLength(1);
    expect(await collect(openLayer(image, image.layers[0]!))).toEqual(Buffer.from(images[which]!.plain[0]!));
  });

  it('lists the available platforms when none matches', async () => {
    const reg = new FakeRegistry();
    pushMultiPlatform(reg, 'multi', 'latest');
    await rejectsWith(
      resolveImage('127.0.0.1:5000/multi', { fetch: reg.fetch, platform: 'linux/s390x' }),
      'NO_MATCHING_PLATFORM',
      /linux\/s390x.*available platforms: linux\/amd64, linux\/arm64\/v8, linux\/riscv64$/,
    );
  });

  it('handles a Docker manifest list with schema2 manifests', async () => {
    const reg = new FakeRegistry();
    const { index, images } = pushMultiPlatform(reg, 'd', 'latest', true);
    const image = await resolveImage('127.0.0.1:5000/d', { fetch: reg.fetch, platform: 'linux/arm64' });
    expect(image.indexDigest).toBe(index.digest);
    expect(image.manifestMediaType).toBe(T.dockerManifest);
    expect(image.layers[0]!.mediaType).toBe(T.dockerGzip);
    expect(await collect(openLayer(image, image.layers[0]!))).toEqual(Buffer.from(images[1]!.plain[0]!));
  });

  it('rejects a single-platform image for another platform', async () => {
    const reg = new FakeRegistry();
    pushImage(reg, 'arm', 'latest', { platform: { os: 'linux', architecture: 'arm64' } });
    await rejectsWith(resolveImage('127.0.0.1:5000/arm', { fetch: reg.fetch }), 'NO_MATCHING_PLATFORM', /linux\/arm64/);
    const ok = await resolveImage('127.0.0.1:5000/arm', { fetch: reg.fetch, platform: 'linux/arm64/v8' });
    expect(ok.platform).toEqual({ os: 'linux', architecture: 'arm64' });
  });

  it('sniffs the real compression of a layer whatever its media type says', async () => {
    const reg = new FakeRegistry();
    const plain = utf8('plain tar bytes, not compressed at all');
    const d = reg.addBlob(plain);
    const img = pushImage(reg, 'x', 'latest');
    const image = await resolveImage('127.0.0.1:5000/x', { fetch: reg.fetch });
    const lying = { mediaType: T.ociGzip, digest: d, size: plain.length };
    expect(await collect(openLayer(image, lying))).toEqual(Buffer.from(plain));
    expect(() => openLayer(image, { ...img.layers[0]!, mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip' })).toThrow(/unsupported layer media type/);
  });

  it('decompresses zstd layers', async () => {
    const reg = new FakeRegistry();
    // `printf 'zstd layer bytes\n' | zstd -c`
    const zst = Buffer.from('28b52ffd04588900007a737464206c617965722062797465730aadd09b19', 'hex');
    const d = reg.addBlob(zst);
    pushImage(reg, 'x', 'latest');
    const image = await resolveImage('127.0.0.1:5000/x', { fetch: reg.fetch });
    const layer = { mediaType: T.ociZstd, digest: d, size: zst.length };
    expect((await collect(openLayer(image, layer))).toString()).toBe('zstd layer bytes\n');
  });

  it('works on a structured clone of the image (e.g. in a worker) given a fetch', async () => {
    const reg = new FakeRegistry({ auth: 'bearer', anonymous: true });
    const img = pushImage(reg, 'app', 'latest');
    const image = structuredClone(await resolveImage('127.0.0.1:5000/app', { fetch: reg.fetch }));
    expect(await collect(openLayer(image, image.layers[1]!, { fetch: reg.fetch }))).toEqual(Buffer.from(img.plain[1]!));
  });
});

describe('manifest and config errors', () => {
  it('NOT_FOUND for a missing tag and a missing blob', async () => {
    const reg = new FakeRegistry();
    const img = pushImage(reg, 'app', 'latest');
    await rejectsWith(resolveImage('127.0.0.1:5000/app:nope', { fetch: reg.fetch }), 'NOT_FOUND', /manifest 127\.0\.0\.1:5000\/app:nope.*manifest unknown/);
    const image = await resolveImage('127.0.0.1:5000/app', { fetch: reg.fetch });
    reg.blobs.delete(img.layers[0]!.digest);
    await rejectsWith(collect(openBlob(image, image.layers[0]!)), 'NOT_FOUND', new RegExp(`blob ${img.layers[0]!.digest}`));
  });

  it('MALFORMED_MANIFEST for bad JSON or missing fields, naming the URL', async () => {
    const reg = new FakeRegistry();
    reg.putManifest('a', 'latest', utf8('{"schemaVersion": 2, "mediaType": '), T.ociManifest);
    await rejectsWith(resolveImage('127.0.0.1:5000/a', { fetch: reg.fetch }), 'MALFORMED_MANIFEST', /http:\/\/127\.0\.0\.1:5000\/v2\/a\/manifests\/latest/);
    reg.putManifest('b', 'latest', { schemaVersion: 2, mediaType: T.ociManifest, config: { mediaType: T.ociConfig, digest: 'sha256:zz', size: 1 }, layers: [] }, T.ociManifest);
    await rejectsWith(resolveImage('127.0.0.1:5000/b', { fetch: reg.fetch }), 'MALFORMED_MANIFEST', /config\.digest/);
    reg.putManifest('c', 'latest', { schemaVersion: 2, mediaType: T.ociIndex, manifests: {} }, T.ociIndex);
    await rejectsWith(resolveImage('127.0.0.1:5000/c', { fetch: reg.fetch }), 'MALFORMED_MANIFEST', /manifests/);
  });

  it('UNSUPPORTED_MEDIA_TYPE for schema1 and unknown types', async () => {
    const reg = new FakeRegistry();
    reg.putManifest('old', 'latest', { schemaVersion: 1, name: 'old', tag: 'latest', fsLayers: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws');
    await rejectsWith(resolveImage('127.0.0.1:5000/old', { fetch: reg.fetch }), 'UNSUPPORTED_MEDIA_TYPE', /schema 1/);
    reg.putManifest('odd', 'latest', { schemaVersion: 2, mediaType: 'application/vnd.example.thing+json' }, 'application/vnd.example.thing+json');
    await rejectsWith(resolveImage('127.0.0.1:5000/odd', { fetch: reg.fetch }), 'UNSUPPORTED_MEDIA_TYPE', /application\/vnd\.example\.thing\+json/);
  });

  it('falls back to Content-Type when the JSON has no mediaType', async () => {
    const reg = new FakeRegistry();
    const img = pushImage(reg, 'app', undefined);
    const doc = JSON.parse(new TextDecoder().decode(img.manifest.bytes)) as Record<string, unknown>;
    delete doc.mediaType;
    reg.putManifest('app', 'bare', doc, T.dockerManifest);
    const image = await resolveImage('127.0.0.1:5000/app:bare', { fetch: reg.fetch });
    expect(image.manifestMediaType).toBe(T.dockerManifest);
  });

  it('DIGEST_MISMATCH when Docker-Content-Digest disagrees or a by-digest manifest is wrong', async () => {
    const reg = new FakeRegistry({ contentDigest: 'wrong' });
    pushImage(reg, 'app', 'latest');
    await rejectsWith(resolveImage('127.0.0.1:5000/app', { fetch: reg.fetch }), 'DIGEST_MISMATCH', /Docker-Content-Digest/);

    const reg2 = new FakeRegistry({ contentDigest: 'omit' });
    const { images } = pushMultiPlatform(reg2, 'm', 'latest');
    const entry = reg2.manifests.get('m')!.get(images[0]!.manifest.digest)!;
    entry.bytes = utf8(new TextDecoder().decode(entry.bytes) + ' ');
    await rejectsWith(resolveImage('127.0.0.1:5000/m', { fetch: reg2.fetch }), 'DIGEST_MISMATCH', new RegExp(`expected ${images[0]!.manifest.digest}, got sha256:`));
  });

  it('verifies and parses the config', async () => {
    const reg = new FakeRegistry();
    const img = pushImage(reg, 'app', 'latest');
    reg.blobs.set(img.configDigest, utf8('x'.repeat(img.configBytes.length)));
    await rejectsWith(resolveImage('127.0.0.1:5000/app', { fetch: reg.fetch, ...fast }), 'DIGEST_MISMATCH', new RegExp(img.configDigest));
    const notJson = utf8('not json');
    const d = reg.addBlob(notJson);
    reg.putManifest('nj', 'latest', { schemaVersion: 2, mediaType: T.ociManifest, config: { mediaType: T.ociConfig, digest: d, size: notJson.length }, layers: [] }, T.ociManifest);
    await rejectsWith(resolveImage('127.0.0.1:5000/nj', { fetch: reg.fetch }), 'MALFORMED_MANIFEST', /config/);
    reg.putManifest('art', 'latest', { schemaVersion: 2, mediaType: T.ociManifest, config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d, size: notJson.length }, layers: [] }, T.ociManifest);
    await rejectsWith(resolveImage('127.0.0.1:5000/art', { fetch: reg.fetch }), 'UNSUPPORTED_MEDIA_TYPE', /not a container image/);
  });

  it('honours an abort signal', async () => {
    const reg = new FakeRegistry();
    pushImage(reg, 'app', 'latest');
    const ac = new AbortController();
    ac.abort();
    await expect(resolveImage('127.0.0.1:5000/app', { fetch: reg.fetch, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
