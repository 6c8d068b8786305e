// A layer served from the pull cache says so at info level (the page shows info logs in
// its messages); the config blob that always comes with the layers only at debug level.
import { describe, expect, it } from 'vitest';
import { openBlob, openLayer, resolveImage, type PullCache } from '../../oci/index.js';
import { FakeRegistry } from './fake-registry.js';
import { collect, fast } from './helpers.js';
import { pushImage } from './images.js';

/** Blobs in memory; no manifests, so only blobs come from it. */
function memoryCache(): PullCache & { blobs: Map<string, Uint8Array> } {
  const blobs = new Map<string, Uint8Array>();
  return {
    blobs,
    getManifest: async () => undefined,
    putManifest: async () => {},
    openBlob: async (digest) => {
      const b = blobs.get(digest);
      return (
        b &&
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(b);
            c.close();
          },
        })
      );
    },
    writeBlob: async (digest) => {
      const parts: Uint8Array[] = [];
      return {
        write: async (c) => void parts.push(c.slice()),
        commit: async () => void blobs.set(digest, new Uint8Array(Buffer.concat(parts))),
        abort: async () => {},
      };
    },
    getChunk: async () => undefined,
    putChunk: async () => {},
    list: async () => [],
    delete: async () => {},
    clear: async () => blobs.clear(),
  };
}

describe('blobs from the cache', () => {
  it('say so at info level, one line a layer, once verified', async () => {
    const reg = new FakeRegistry();
    const img = pushImage(reg, 'app', 'v1');
    const cache = memoryCache();
    const logs: { level: string; m: string }[] = [];
    const logger = { info: (m: string) => logs.push({ level: 'info', m }), debug: (m: string) => logs.push({ level: 'debug', m }) };
    const opts = { fetch: reg.fetch, cache, logger, ...fast };

    const cold = await resolveImage('127.0.0.1:5000/app:v1', opts);
    for (const l of cold.layers) await collect(openLayer(cold, l, opts));
    expect(logs.filter((l) => /from the cache/.test(l.m))).toEqual([]);

    const warm = await resolveImage('127.0.0.1:5000/app:v1', opts);
    const layer = warm.layers[0]!;
    const stream = openLayer(warm, layer, opts);
    expect(await collect(stream)).toEqual(Buffer.from(img.plain[0]!));
    await collect(openBlob(warm, warm.layers[1] ?? layer, opts));
    const said = logs.filter((l) => /from the cache/.test(l.m));
    const short = (d: string) => `${d.slice(0, 19)}…`;
    expect(said).toEqual([
      { level: 'debug', m: `blob ${short(warm.configDigest)}: from the cache (${warm.configBytes.length} bytes, verified)` },
      { level: 'info', m: `blob ${short(layer.digest)}: from the cache (${layer.size} bytes, verified)` },
      { level: 'info', m: `blob ${short((warm.layers[1] ?? layer).digest)}: from the cache (${(warm.layers[1] ?? layer).size} bytes, verified)` },
    ]);
  });
});
