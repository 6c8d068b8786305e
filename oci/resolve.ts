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
import { isConfigType, layerCompression } from './media-types.js';
import { formatPlatform, platformMatches, toPlatform } from './platform.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry.js';
import { parseJson, type ImageSource } from './source.js';
import type { Descriptor, ImageConfig, ImageReference, Platform, PullOptions, ResolvedImage } from './types.js';

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

async function loadManifest(ctx: HttpContext, source: ImageSource, ref: string, descType?: string): Promise<Loaded> {
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

  let loaded: Loaded;
  let indexDigest: string | undefined;
  let available: Platform[] | undefined;
  let chosen: Platform | undefined;
  if (reference.kind === 'registry') {
    loaded = await loadManifest(ctx, source, reference.digest ?? reference.tag ?? 'latest');
  } else {
    const index = await (source as LayoutClient).getIndex(ctx);
    const pick = pickLayoutEntry(parseManifestDoc(index.bytes, index.url), reference, want, index.url);
    if (pick.available) {
      available = pick.available;
      chosen = platformOf(pick.desc);
    }
    loaded = await loadManifest(ctx, source, pick.desc.digest, pick.desc.mediaType);
  }
  for (let depth = 0; loaded.doc.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new ImageError('MALFORMED_MANIFEST', `${loaded.url}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    indexDigest ??= loaded.digest;
    const { desc, available: offered } = selectPlatform(loaded.doc.manifests, want, `${source.label} (${loaded.url})`);
    available ??= offered;
    chosen = platformOf(desc) ?? chosen;
    loaded = await loadManifest(ctx, source, desc.digest, desc.mediaType);
  }
  const manifest = loaded.doc;

  if (!isConfigType(manifest.config.mediaType)) {
    throw new ImageError('UNSUPPORTED_MEDIA_TYPE', `${loaded.url}: not a container image (config media type "${manifest.config.mediaType}")`);
  }
  if (manifest.config.size > MAX_CONFIG_BYTES) {
    throw new ImageError('SIZE_MISMATCH', `${loaded.url}: config blob of ${manifest.config.size} bytes is implausibly large`);
  }
  const configBytes = await readStream(verifiedBlobStream(ctx, source, manifest.config));
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
  };
  clients.set(image, { source, opts });
  return image;
}

/** The resolving client and its options, or a fresh client if the image was cloned (e.g. sent to a worker). */
function clientFor(image: ResolvedImage, opts: PullOptions): { source: ImageSource; ctx: HttpContext } {
  const kept = clients.get(image);
  const base = kept?.opts ?? {};
  const merged: PullOptions = {
    ...pick(base, ['fetch', 'credentials', 'logger', 'retries', 'retryDelayMs', 'codecs']),
    ...opts,
  };
  return { source: kept?.source ?? makeSource(image.reference, merged), ctx: httpContext(merged) };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

export function openBlob(image: ResolvedImage, desc: Descriptor, opts: PullOptions = {}): ReadableStream<Uint8Array> {
  const { source, ctx } = clientFor(image, opts);
  return verifiedBlobStream(ctx, source, desc, opts.onProgress);
}

export function openLayer(image: ResolvedImage, desc: Descriptor, opts: PullOptions = {}): ReadableStream<Uint8Array> {
  const declared = layerCompression(desc.mediaType);
  const { source, ctx } = clientFor(image, opts);
  const blob = verifiedBlobStream(ctx, source, desc, opts.onProgress);
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
