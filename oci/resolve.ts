// The public pulling functions: resolve a reference to one verified manifest + config for
// a platform, then stream its blobs and layers. Source-agnostic: registries and layouts
// differ only in how the first document is found.
import { readStream, verifiedBlobStream } from './blob-stream.js';
import { decompressStream, lazyStream, mapStreamErrors, peek, sniffCompression } from './decompress.js';
import { digestOf, isDigest, splitDigest, verifyBytes } from './digest.js';
import { ImageError, errorMessage } from './errors.js';
import { httpContext, isNetworkError, retryDelay, sleep, type HttpContext } from './http.js';
import { LayoutClient } from './layout.js';
import { parseManifestDoc, platformOf, selectPlatform, type ManifestDoc } from './manifest.js';
import { OCI_INDEX, isConfigType, layerCompression } from './media-types.js';
import { formatPlatform, platformMatches, toPlatform } from './platform.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry.js';
import { parseJson, type ImageSource } from './source.js';
import type { BlobProgress, BlobSink, CachedManifest, Descriptor, ImageConfig, ImageReference, Platform, PullCache, PullOptions, ResolvedImage } from './types.js';

const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const MAX_INDEX_DEPTH = 4;

/** The client that resolved an image (token cache, injected fetch), kept out of the plain data. */
const clients = new WeakMap<ResolvedImage, { source: ImageSource; opts: PullOptions }>();

function makeSource(reference: ImageReference, opts: PullOptions): ImageSource {
  return reference.kind === 'registry' ? new RegistryClient(reference, opts.credentials) : new LayoutClient(reference);
}

interface Loaded {
  digest: string;
  doc: ManifestDoc;
  bytes: Uint8Array;
  url: string;
}

async function loadManifest(ctx: HttpContext, source: ImageSource, ref: string, descType?: string, cache?: PullCache, tagKey?: string): Promise<Loaded> {
  if (cache && isDigest(ref)) {
    // Content-addressed, so a cached copy is as good as the registry's (the cache re-verifies it).
    const hit = await cache.getManifest(ref).catch(() => undefined);
    if (hit?.digest === ref) return cachedLoaded(hit, `${source.label}@${ref} (cached)`, descType);
  }
  const loaded = await fetchManifest(ctx, source, ref, descType);
  if (cache) {
    const entry: CachedManifest = { bytes: loaded.bytes, mediaType: loaded.doc.mediaType, digest: loaded.digest, fetchedAt: Date.now() };
    await cachePut(ctx, () => cache.putManifest(loaded.digest, entry));
    if (tagKey) await cachePut(ctx, () => cache.putManifest(tagKey, entry));
  }
  return loaded;
}

function cachedLoaded(hit: CachedManifest, url: string, descType?: string): Loaded {
  return { digest: hit.digest, doc: parseManifestDoc(hit.bytes, url, descType, hit.mediaType), bytes: hit.bytes, url };
}

/** A cache write that fails (disk full, quota) costs the cache entry, not the pull. */
async function cachePut(ctx: HttpContext, put: () => Promise<void>): Promise<void> {
  await put().catch((e: unknown) => ctx.logger?.warn?.(`cache: could not store an entry: ${errorMessage(e)}`));
}

/** The cached copy of a mutable document (tag, layout index.json) when `e` says we are offline; else rethrows `e`. */
async function offlineCopy(ctx: HttpContext, cache: PullCache | undefined, key: string, e: unknown): Promise<CachedManifest> {
  const offline = e instanceof ImageError ? e.code === 'NETWORK' : isNetworkError(e);
  if (!cache || !offline) throw e;
  const hit = await cache.getManifest(key).catch(() => undefined);
  if (!hit) throw e;
  // info, not warn: using the cache offline is the feature working, and users must see it.
  ctx.logger?.info?.(`${key}: offline (${errorMessage(e)}); using the cached copy from ${new Date(hit.fetchedAt).toISOString()}`);
  return hit;
}

/** Local layouts are not cached: copying a disk to a disk saves nothing. */
function cacheFor(source: ImageSource, opts: PullOptions): PullCache | undefined {
  return source.local ? undefined : opts.cache;
}

async function fetchManifest(ctx: HttpContext, source: ImageSource, ref: string, descType?: string): Promise<Loaded> {
  const m = await source.getManifest(ctx, ref);
  let digest: string;
  if (isDigest(ref)) {
    digest = await verifyBytes(m.bytes, ref, `manifest ${ref} from ${m.url}`);
  } else {
    digest = await digestOf(m.bytes);
    if (m.headerDigest) {
      if (!isDigest(m.headerDigest)) {
        ctx.logger?.warn?.(`${m.url}: ignoring unparsable Docker-Content-Digest "${m.headerDigest}"`);
      } else {
        const actual = await digestOf(m.bytes, splitDigest(m.headerDigest).algorithm);
        if (actual !== m.headerDigest) {
          throw new ImageError('DIGEST_MISMATCH', `manifest ${m.url}: Docker-Content-Digest says ${m.headerDigest} but the body hashes to ${actual}`);
        }
      }
    }
  }
  return { digest, doc: parseManifestDoc(m.bytes, m.url, descType, m.contentType), bytes: m.bytes, url: m.url };
}

/** Which entry of a layout's index.json the reference means. */
function pickLayoutEntry(
  index: ManifestDoc,
  reference: Extract<ImageReference, { kind: 'layout' }>,
  want: Platform,
  url: string,
): { desc: Descriptor; available?: Platform[] } {
  if (index.kind !== 'index') throw new ImageError('MALFORMED_MANIFEST', `${url} is not an image index`);
  const entries = index.manifests;
  const tagOf = (d: Descriptor) => d.annotations?.['org.opencontainers.image.ref.name'];
  if (reference.digest) {
    return { desc: entries.find((d) => d.digest === reference.digest) ?? { mediaType: '', digest: reference.digest, size: 0 } };
  }
  const tags = entries.map(tagOf).filter((t): t is string => !!t);
  if (reference.tag) {
    const hit = entries.find((d) => tagOf(d) === reference.tag || d.annotations?.['io.containerd.image.name'] === reference.tag);
    if (!hit) throw new ImageError('NOT_FOUND', `no manifest tagged "${reference.tag}" in ${url}; tags: ${tags.join(', ') || 'none'}`);
    return { desc: hit };
  }
  if (entries.length === 1) return { desc: entries[0]! };
  if (entries.some((d) => d.platform)) return selectPlatform(entries, want, url);
  if (entries.length === 0) throw new ImageError('NOT_FOUND', `${url} lists no manifests`);
  throw new ImageError('BAD_REFERENCE', `${reference.baseUrl} holds ${entries.length} images; pick one with #tag or @digest (tags: ${tags.join(', ') || 'none'})`);
}

export async function resolveImage(ref: string | ImageReference, opts: PullOptions = {}): Promise<ResolvedImage> {
  const reference = typeof ref === 'string' ? parseReference(ref) : ref;
  const want = toPlatform(opts.platform);
  const ctx = httpContext(opts);
  const source = makeSource(reference, opts);
  const cache = cacheFor(source, opts);
  let fromCache = false;

  let loaded: Loaded;
  let indexDigest: string | undefined;
  let available: Platform[] | undefined;
  let chosen: Platform | undefined;
  if (reference.kind === 'registry') {
    const first = reference.digest ?? reference.tag ?? 'latest';
    const tagKey = reference.digest ? undefined : `${reference.registry}/${reference.repository}:${first}`;
    try {
      loaded = await loadManifest(ctx, source, first, undefined, cache, tagKey);
    } catch (e) {
      if (!tagKey) throw e;
      loaded = cachedLoaded(await offlineCopy(ctx, cache, tagKey, e), `${tagKey} (cached)`);
      fromCache = true;
    }
  } else {
    const indexKey = `${reference.baseUrl}/index.json`;
    let index: { bytes: Uint8Array; url: string };
    try {
      index = await (source as LayoutClient).getIndex(ctx);
      const { bytes } = index;
      if (cache) await cachePut(ctx, async () => cache.putManifest(indexKey, { bytes, mediaType: OCI_INDEX, digest: await digestOf(bytes), fetchedAt: Date.now() }));
    } catch (e) {
      index = { bytes: (await offlineCopy(ctx, cache, indexKey, e)).bytes, url: `${indexKey} (cached)` };
      fromCache = true;
    }
    const pick = pickLayoutEntry(parseManifestDoc(index.bytes, index.url), reference, want, index.url);
    if (pick.available) {
      available = pick.available;
      chosen = platformOf(pick.desc);
    }
    loaded = await loadManifest(ctx, source, pick.desc.digest, pick.desc.mediaType, cache);
  }
  for (let depth = 0; loaded.doc.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new ImageError('MALFORMED_MANIFEST', `${loaded.url}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    indexDigest ??= loaded.digest;
    const { desc, available: offered } = selectPlatform(loaded.doc.manifests, want, `${source.label} (${loaded.url})`);
    available ??= offered;
    chosen = platformOf(desc) ?? chosen;
    loaded = await loadManifest(ctx, source, desc.digest, desc.mediaType, cache);
  }
  const manifest = loaded.doc;

  if (!isConfigType(manifest.config.mediaType)) {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${loaded.url}: not a container image (config media type "${manifest.config.mediaType}")`);
  }
  if (manifest.config.size > MAX_CONFIG_BYTES) {
    throw new ImageError('SIZE_MISMATCH', `${loaded.url}: config blob of ${manifest.config.size} bytes is implausibly large`);
  }
  const configBytes = await readStream(blobStream(ctx, source, manifest.config, undefined, cache));
  const config = parseJson(configBytes, `image config ${manifest.config.digest}`) as ImageConfig;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ImageError('MALFORMED_MANIFEST', `image config ${manifest.config.digest} is not a JSON object`);
  }
  const fromConfig: Platform | undefined =
    config.os && config.architecture ? { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) } : undefined;
  const platform = chosen ?? fromConfig ?? want;
  if (!chosen && fromConfig && !platformMatches(want, fromConfig)) {
    throw new ImageError('NO_MATCHING_PLATFORM', `${source.label} is a single-platform image for ${formatPlatform(fromConfig)}, not ${formatPlatform(want)}; available platforms: ${formatPlatform(fromConfig)}`);
  }

  const image: ResolvedImage = {
    reference,
    ...(indexDigest ? { indexDigest } : {}),
    manifestDigest: loaded.digest,
    manifestMediaType: manifest.mediaType,
    manifestBytes: loaded.bytes,
    platform,
    availablePlatforms: available ?? [platform],
    configDigest: manifest.config.digest,
    configBytes,
    config,
    layers: manifest.layers,
    ...(fromCache ? { fromCache: true as const } : {}),
  };
  clients.set(image, { source, opts });
  return image;
}

/** The resolving client and its options, or a fresh client if the image was cloned (e.g. sent to a worker). */
function clientFor(image: ResolvedImage, opts: PullOptions): { source: ImageSource; ctx: HttpContext; cache?: PullCache } {
  const kept = clients.get(image);
  const base = kept?.opts ?? {};
  const merged: PullOptions = {
    ...pick(base, ['fetch', 'credentials', 'logger', 'retries', 'retryDelayMs', 'codecs', 'cache']),
    ...opts,
  };
  const source = kept?.source ?? makeSource(image.reference, merged);
  const cache = cacheFor(source, merged);
  return { source, ctx: httpContext(merged), ...(cache ? { cache } : {}) };
}

/**
 * A verified blob, from the cache when it holds it; otherwise downloaded and written to
 * the cache as it passes, committed only once the stream has verified the digest.
 */
function blobStream(ctx: HttpContext, source: ImageSource, desc: Descriptor, onProgress?: (p: BlobProgress) => void, cache?: PullCache): ReadableStream<Uint8Array> {
  if (!cache) return verifiedBlobStream(ctx, source, desc, onProgress);
  return lazyStream(async () => {
    const hit = await cache.openBlob(desc.digest).catch(() => undefined);
    if (hit) {
      // Layers at info, so that a user sees why nothing was downloaded: the page lists it in
      // its messages, the CLI prints it on stderr, one line a layer. The config goes with them.
      const config = isConfigType(desc.mediaType);
      const say = (m: string) => (config ? ctx.logger?.debug?.(m) : ctx.logger?.info?.(m));
      // Through the same verifier: a file changed since the cache checked it still fails.
      const fromCache: ImageSource = {
        label: `${source.label} (cached)`,
        local: true,
        getManifest: () => Promise.reject(new ImageError('NOT_SUPPORTED', 'no manifests in a cached blob')),
        getBlob: async (_ctx, _desc, range) => {
          if (range) throw new ImageError('TRUNCATED', `cached blob ${desc.digest}: read failed part-way`);
          return new Response(hit);
        },
      };
      const short = desc.digest.replace(/^(\w+:\w{12})\w+$/, '$1…');
      return verifiedBlobStream(ctx, fromCache, desc, onProgress).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({ flush: () => say(`blob ${short}: from the cache (${desc.size} bytes, verified)`) }),
      );
    }
    return teeToCache(ctx, verifiedBlobStream(ctx, source, desc, onProgress), cache, desc);
  });
}

function teeToCache(ctx: HttpContext, stream: ReadableStream<Uint8Array>, cache: PullCache, desc: Descriptor): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  // undefined: not opened yet; null: not caching this blob (failed, or finished).
  let sink: BlobSink | null | undefined;
  const drop = async (why?: unknown): Promise<void> => {
    const s = sink;
    sink = null;
    await s?.abort().catch(() => {});
    if (why !== undefined) ctx.logger?.warn?.(`cache: not storing blob ${desc.digest}: ${errorMessage(why)}`);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (sink === undefined) sink = await cache.writeBlob(desc.digest, desc.size).catch(async (e: unknown) => (await drop(e), null));
        const { done, value } = await reader.read();
        if (done) {
          // The verified stream only closes once size and digest matched.
          const s = sink;
          sink = null;
          await s?.commit().catch((e: unknown) => ctx.logger?.warn?.(`cache: could not store blob ${desc.digest}: ${errorMessage(e)}`));
          controller.close();
          return;
        }
        if (sink) await sink.write(value).catch(drop);
        controller.enqueue(value);
      } catch (e) {
        await drop();
        controller.error(e);
      }
    },
    async cancel(reason) {
      await drop();
      await reader.cancel(reason).catch(() => {});
    },
  });
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

export function openBlob(image: ResolvedImage, desc: Descriptor, opts: PullOptions = {}): ReadableStream<Uint8Array> {
  const { source, ctx, cache } = clientFor(image, opts);
  return blobStream(ctx, source, desc, opts.onProgress, cache);
}

export function openLayer(image: ResolvedImage, desc: Descriptor, opts: PullOptions = {}): ReadableStream<Uint8Array> {
  const declared = layerCompression(desc.mediaType);
  const { source, ctx, cache } = clientFor(image, opts);
  const blob = blobStream(ctx, source, desc, opts.onProgress, cache);
  return lazyStream(async () => {
    const { head, stream } = await peek(blob, 4);
    const actual = sniffCompression(head);
    if (actual !== declared) {
      (opts.logger ?? clients.get(image)?.opts.logger)?.debug?.(`layer ${desc.digest}: media type says ${declared} but the bytes are ${actual}; using ${actual}`);
    }
    // Name the layer in decoder errors; blob errors (digest, network) already do.
    return mapStreamErrors(decompressStream(actual, stream, { gunzip: ctx.codecs?.gunzip }), (e) =>
      e instanceof ImageError && !e.message.includes(desc.digest)
        ? new ImageError(e.code, `layer ${desc.digest}: ${e.message}`, { cause: e })
        : e,
    );
  });
}

export async function fetchBlobRange(image: ResolvedImage, desc: Descriptor, start: number, end: number, opts: PullOptions = {}): Promise<Uint8Array> {
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= desc.size)) {
    throw new RangeError(`fetchBlobRange: [${start}, ${end}) is not within blob ${desc.digest} of ${desc.size} bytes`);
  }
  const want = end - start;
  if (want === 0) return new Uint8Array(0);
  const { source, ctx } = clientFor(image, opts);
  const what = `bytes ${start}-${end} of blob ${desc.digest}`;
  for (let attempt = 1; ; attempt++) {
    let got = 0;
    try {
      const res = await source.getBlob(ctx, desc, { start, end });
      const out = new Uint8Array(want);
      // A 200 means the server ignored Range: skip to `start` and stop at `end`.
      let skip = res.status === 206 ? 0 : start;
      const reader = (res.body ?? new Blob([]).stream()).getReader();
      while (got < want) {
        const { done, value } = await reader.read();
        if (done) break;
        const drop = Math.min(skip, value.byteLength);
        skip -= drop;
        const take = value.subarray(drop, drop + Math.min(value.byteLength - drop, want - got));
        out.set(take, got);
        got += take.byteLength;
      }
      await reader.cancel().catch(() => {});
      if (got === want) return out;
      if (source.local || attempt > ctx.retries) {
        throw new ImageError('TRUNCATED', `${what}: got ${got} of ${want} bytes`);
      }
    } catch (e) {
      if (!isNetworkError(e)) throw e;
      if (attempt > ctx.retries) throw new ImageError('NETWORK', `${what}: failed after ${attempt} attempts: ${errorMessage(e)}`, { cause: e });
    }
    const delay = retryDelay(ctx, attempt);
    ctx.logger?.warn?.(`${what}: incomplete; retrying in ${Math.round(delay)} ms`);
    await sleep(delay, ctx.signal);
  }
}
