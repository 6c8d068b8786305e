// Lazy pulling of eStargz / legacy stargz / zstd:chunked layers: one Range request for the
// footer, one for the TOC, then file contents on demand through a LazyStore.

import { fetchBlobRange, type Descriptor, type ResolvedImage } from '../oci/index.js';
import { digestOf } from '../oci/digest.js';
import { ImageError } from '../oci/errors.js';
import type { LayerEntry } from '../src/fs/layer.js';
import { gunzipAll, tarEntryContent, unzstd, type ChunkCompression } from './codec.js';
import { MAX_FOOTER_SIZE, parseFooter, ZSTD_CHUNKED_FOOTER_SIZE, type Footer } from './footer.js';
import { LazyStore, type LazyChunk, type LazyStoreOptions } from './lazy-store.js';
import { parseToc } from './toc-parse.js';
import { PREFETCH_LANDMARK, TOC_DIGEST_ANNOTATION, TOC_TAR_NAME } from './toc.js';

export interface LazyLayerOptions extends LazyStoreOptions {
  /** Fetch the prioritized files (before `.prefetch.landmark`) in the background; default true. */
  prefetch?: boolean;
  /**
   * After the TOC and the prefetch, fetch the rest of the layer into the chunk cache at low
   * priority (`LazyStore.backgroundFetch`): one request at a time, yielding to demand reads,
   * until the cache is full. Default false. Stopped by `LazyLayer.close()` or by aborting
   * `backgroundSignal` (or `signal`).
   */
  backgroundFetch?: boolean;
  /** Aborting it stops the background fetch of every layer opened with it (e.g. on shutdown). */
  backgroundSignal?: AbortSignal;
}

export interface LazyLayer {
  footer: Footer;
  /** sha256 of the TOC JSON, verified against the toc.digest annotation when there is one. */
  tocDigest: string;
  /** Entries for Tree.applyEntries, in TOC order; regular files point into `store`. */
  entries: LayerEntry[];
  store: LazyStore;
  /** The background prefetch, when the layer has a `.prefetch.landmark` (never rejects). */
  prefetched?: Promise<void>;
  /** The background fetch, with `backgroundFetch` (never rejects; resolves when done, the cache is full, or closed). */
  background?: Promise<void>;
  /** Stop the background fetch; demand reads keep working. */
  close(): Promise<void>;
}

/** Compressed TOCs larger than this are refused (the Go library's limit is 50 MB uncompressed). */
const MAX_TOC_BYTES = 64 * 1024 * 1024;

/**
 * Open a layer lazily. Resolves undefined when the blob's tail is no eStargz / stargz /
 * zstd:chunked footer (the caller then pulls it whole). Rejects with ImageError when it is
 * one but the TOC is corrupt, does not match the `toc.digest` annotation (DIGEST_MISMATCH),
 * or names unsafe paths (BAD_PATH).
 */
export async function openLazyLayer(image: ResolvedImage, desc: Descriptor, opts: LazyLayerOptions = {}): Promise<LazyLayer | undefined> {
  const name = desc.digest;
  const stats = opts.stats;
  const fetch = async (start: number, end: number) => {
    if (stats) stats.requests++;
    const bytes = await fetchBlobRange(image, desc, start, end, opts);
    if (stats) stats.bytesFetched += bytes.length;
    return bytes;
  };
  if (desc.size < ZSTD_CHUNKED_FOOTER_SIZE) return undefined;
  const tail = await fetch(desc.size - Math.min(desc.size, MAX_FOOTER_SIZE), desc.size);
  const footer = parseFooter(tail);
  if (!footer) return undefined;
  if (stats) stats.blobBytes += desc.size;

  const kind: ChunkCompression = footer.format === 'zstd:chunked' ? 'zstd' : 'gzip';
  const tocEnd = footer.format === 'zstd:chunked' ? footer.tocOffset + footer.tocCompressedSize : desc.size - footer.size;
  if (!(footer.tocOffset < tocEnd && tocEnd <= desc.size - footer.size)) {
    throw new ImageError('BAD_TAR', `layer ${name}: ${footer.format} footer puts the TOC at [${footer.tocOffset}, ${tocEnd}), outside the ${desc.size}-byte blob`);
  }
  if (tocEnd - footer.tocOffset > MAX_TOC_BYTES) throw new ImageError('BAD_TAR', `layer ${name}: TOC of ${tocEnd - footer.tocOffset} bytes is too large`);
  const packed = await fetch(footer.tocOffset, tocEnd);
  const what = `TOC of layer ${name}`;
  const json =
    footer.format === 'zstd:chunked'
      ? unzstd(packed, what, footer.tocSize)
      : tarEntryContent(gunzipAll(packed, what, 4 * MAX_TOC_BYTES), TOC_TAR_NAME, what);

  const tocDigest = await digestOf(json);
  const expected = desc.annotations?.[TOC_DIGEST_ANNOTATION];
  if (expected === undefined) {
    opts.logger?.warn?.(`layer ${name}: no ${TOC_DIGEST_ANNOTATION} annotation; the TOC (${tocDigest}) is unverified, chunk digests are still checked`);
  } else if (expected !== tocDigest) {
    throw new ImageError('DIGEST_MISMATCH', `${what}: annotation ${TOC_DIGEST_ANNOTATION} says ${expected} but the TOC hashes to ${tocDigest}`);
  }

  const toc = parseToc(json, footer.tocOffset, name);
  // A chunk's compressed extent runs to the next member that holds data, or to the TOC.
  const starts = [...new Set(toc.files.flatMap((f) => f.chunks.map((c) => c.blobOffset)).concat(toc.landmark ? [toc.landmark.offset] : []))].sort((a, b) => a - b);
  const endOf = (offset: number) => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return starts[lo] ?? footer.tocOffset;
  };

  const chunks: LazyChunk[] = [];
  const bases: number[] = [];
  let v = 0;
  for (const f of toc.files) {
    bases.push(v);
    for (const c of f.chunks) {
      chunks.push({ vOffset: v + c.fileOffset, length: c.length, blobOffset: c.blobOffset, blobEnd: endOf(c.blobOffset), digest: c.digest });
    }
    v += f.chunks.length > 0 ? f.entry.size : 0;
  }
  const store = new LazyStore(image, desc, kind, chunks, opts);
  const entries = toc.files.map((f, i): LayerEntry => (f.chunks.length > 0 ? { ...f.entry, content: { store, offset: bases[i]! } } : f.entry));

  const layer: LazyLayer = { footer, tocDigest, entries, store, close: () => store.close() };
  if (opts.prefetch !== false && toc.landmark?.name === PREFETCH_LANDMARK && starts.length > 0 && starts[0]! < toc.landmark.offset) {
    layer.prefetched = store.prefetch(starts[0]!, toc.landmark.offset).catch((e: unknown) => {
      opts.logger?.warn?.(`layer ${name}: prefetch failed (files are fetched on demand instead): ${e instanceof Error ? e.message : String(e)}`);
    });
  }
  if (opts.backgroundFetch) {
    const stop = opts.backgroundSignal;
    if (stop?.aborted) void store.close();
    else stop?.addEventListener('abort', () => void store.close(), { once: true });
    layer.background = (layer.prefetched ?? Promise.resolve()).then(() => store.backgroundFetch());
  }
  return layer;
}
