import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchBlobRange, openLayer, resolveImage, type Descriptor, type FetchLike } from '../../oci/index.js';
import { createNodeFetch } from '../../src/node/index.js';
import { FakeRegistry, utf8 } from './fake-registry.js';
import { collect, fast, rejectsWith } from './helpers.js';
import { T, pushImage, pushMultiPlatform } from './images.js';

const root = mkdtempSync(join(tmpdir(), 'oci-layout-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const nodeFetch = createNodeFetch();

/** Writes every blob and manifest of a FakeRegistry into an image layout directory. */
function writeLayout(name: string, reg: FakeRegistry, manifests: Descriptor[], withMarker = true): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of reg.blobs) writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  for (const m of reg.manifests.values()) for (const [key, v] of m) if (key.startsWith('sha256:')) writeFileSync(join(dir, 'blobs', 'sha256', key.slice(7)), v.bytes);
  if (withMarker) writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: T.ociIndex, manifests }));
  return dir;
}

const desc = (m: { digest: string; size: number }, mediaType: string, annotations?: Record<string, string>): Descriptor => ({
  mediaType,
  digest: m.digest,
  size: m.size,
  ...(annotations ? { annotations } : {}),
});

describe('OCI image layouts on disk', () => {
  const reg = new FakeRegistry();
  const a = pushImage(reg, 'a', undefined, { layers: [utf8('layer of a')] });
  const b = pushImage(reg, 'b', undefined, { layers: [utf8('layer of b')] });
  const multi = pushMultiPlatform(reg, 'm', 'latest');

  it('reads a layout with one manifest by path', async () => {
    const dir = writeLayout('single', reg, [desc(a.manifest, T.ociManifest)]);
    const image = await resolveImage(dir, { fetch: nodeFetch });
    expect(image.reference).toMatchObject({ kind: 'layout', baseUrl: pathToFileURL(dir).href });
    expect(image.manifestDigest).toBe(a.manifest.digest);
    expect(new TextDecoder().decode(await collect(openLayer(image, image.layers[0]!)))).toBe('layer of a');
    const raw = reg.blobs.get(image.layers[0]!.digest)!;
    expect(Buffer.from(await fetchBlobRange(image, image.layers[0]!, 2, 9))).toEqual(Buffer.from(raw.subarray(2, 9)));
  });

  it('descends into a nested platform index', async () => {
    const dir = writeLayout('nested', reg, [desc(multi.index, T.ociIndex, { 'org.opencontainers.image.ref.name': 'latest' })], false);
    const image = await resolveImage(`file://${dir}`, { fetch: nodeFetch, platform: 'linux/riscv64' });
    expect(image.indexDigest).toBe(multi.index.digest);
    expect(image.manifestDigest).toBe(multi.images[2]!.manifest.digest);
    expect(image.availablePlatforms.map((p) => p.architecture)).toEqual(['amd64', 'arm64', 'riscv64']);
  });

  it('selects by platform when index.json itself lists platforms', async () => {
    const entries = multi.images.map((img, i) => ({ ...desc(img.manifest, T.ociManifest), platform: multi.platforms[i]! }));
    const dir = writeLayout('platforms', reg, entries);
    const image = await resolveImage(dir, { fetch: nodeFetch, platform: 'linux/arm64' });
    expect(image.manifestDigest).toBe(multi.images[1]!.manifest.digest);
    expect(image.indexDigest).toBeUndefined();
    expect(image.availablePlatforms).toHaveLength(3);
    await rejectsWith(resolveImage(dir, { fetch: nodeFetch, platform: 'linux/ppc64le' }), 'NO_MATCHING_PLATFORM', /linux\/amd64, linux\/arm64\/v8, linux\/riscv64/);
  });

  it('picks among tagged images by #tag or @digest, and refuses to guess', async () => {
    const dir = writeLayout('tagged', reg, [
      desc(a.manifest, T.ociManifest, { 'org.opencontainers.image.ref.name': 'v1' }),
      desc(b.manifest, T.ociManifest, { 'org.opencontainers.image.ref.name': 'v2' }),
    ]);
    expect((await resolveImage(`${dir}#v2`, { fetch: nodeFetch })).manifestDigest).toBe(b.manifest.digest);
    expect((await resolveImage(`${dir}@${a.manifest.digest}`, { fetch: nodeFetch })).manifestDigest).toBe(a.manifest.digest);
    await rejectsWith(resolveImage(dir, { fetch: nodeFetch }), 'BAD_REFERENCE', /2 images.*tags: v1, v2/);
    await rejectsWith(resolveImage(`${dir}#v3`, { fetch: nodeFetch }), 'NOT_FOUND', /"v3".*tags: v1, v2/);
  });

  it('reports a missing layout, a missing blob, and a truncated blob at once', async () => {
    await rejectsWith(resolveImage(join(root, 'nope'), { fetch: nodeFetch }), 'NOT_FOUND', /not an OCI image layout/);
    const dir = writeLayout('broken', reg, [desc(a.manifest, T.ociManifest)]);
    const image = await resolveImage(dir, { fetch: nodeFetch });
    const layer = image.layers[0]!;
    writeFileSync(join(dir, 'blobs', 'sha256', layer.digest.slice(7)), reg.blobs.get(layer.digest)!.subarray(0, 10));
    const t0 = Date.now();
    await rejectsWith(collect(openLayer(image, layer)), 'TRUNCATED');
    expect(Date.now() - t0).toBeLessThan(400); // local files are not retried with backoff
    rmSync(join(dir, 'blobs', 'sha256', layer.digest.slice(7)));
    await rejectsWith(collect(openLayer(image, layer)), 'NOT_FOUND', /blob sha256:/);
  });

  it('reads a layout served over HTTP', async () => {
    const dir = writeLayout('http', reg, [desc(a.manifest, T.ociManifest)]);
    const base = 'https://static.example.test/images/app';
    const requests: string[] = [];
    const http: FetchLike = (url, init) => {
      requests.push(url);
      if (!url.startsWith(base)) throw new TypeError('fetch failed');
      return nodeFetch(pathToFileURL(dir).href + url.slice(base.length), init);
    };
    const image = await resolveImage(`${base}/`, { fetch: http, ...fast });
    expect(new TextDecoder().decode(await collect(openLayer(image, image.layers[0]!)))).toBe('layer of a');
    expect(requests).toContain(`${base}/index.json`);
    expect(requests).toContain(`${base}/blobs/sha256/${a.manifest.digest.slice(7)}`);
  });
});
