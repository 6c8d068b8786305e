// The library entry: pull an image, verify every blob, merge its layers and expose the
// tree the VM mounts. Browser workers and Node share this file; Node-only edges
// (file: URLs, ~/.docker/config.json) live in src/node and are passed in as options.
import { layerCompression, openLayer, resolveImage, type PullOptions, type ResolvedImage } from '../oci/index.js';
import { openLazyLayer, TOC_DIGEST_ANNOTATION, type ChunkCache, type LazyStats } from '../estargz/index.js';
import { chunkCacheOf } from './cache/index.js';
import { buildRouteTree, generateRuntimeSpec, MemoryStore, Tree, type ContentStore } from './fs/index.js';

export interface OpenImageOptions extends PullOptions {
  /** Where decompressed file contents live; an in-memory segmented store by default. */
  store?: ContentStore;
  /** Called once per layer when it has been verified and applied. */
  onLayer?: (info: { index: number; digest: string; entries: number; bytes: number; lazy?: boolean }) => void;
  /**
   * Pull eStargz / zstd:chunked layers lazily (default true): only the footer and TOC up
   * front, file contents by HTTP Range when read, each chunk verified against the TOC,
   * which is verified against the manifest's toc.digest annotation. Other layers, and
   * every layer when false, are pulled whole.
   */
  lazy?: boolean;
  /** Tuning of lazy layers. */
  lazyOptions?: {
    /** Bytes of decompressed chunks kept in memory per layer; default 64 MiB. */
    cacheBytes?: number;
    /** Range requests in flight per layer; default 4. */
    maxInFlight?: number;
    /** Fetch prioritized files (eStargz prefetch landmark) in the background; default true. */
    prefetch?: boolean;
    /** Persistent cache of verified chunks, keyed by chunk digest. */
    chunkCache?: ChunkCache;
    /** After TOC and prefetch, fill the chunk cache with the rest of each layer at low priority; default false. */
    backgroundFetch?: boolean;
    /** Aborting it stops every layer's background fetch (call on shutdown). */
    backgroundSignal?: AbortSignal;
  };
}

export interface MountedImage {
  image: ResolvedImage;
  /** The image's merged root filesystem. */
  rootfs: Tree;
  /** The tree served to the VM: rootfs/, config/config.json, config/imageconfig.json. */
  tree: Tree;
  /** The OCI runtime spec served as config/config.json. */
  runtimeSpec: object;
  /** Network counters of the lazily pulled layers; absent when none was lazy. */
  lazy?: LazyStats;
}

export async function openImage(ref: string, opts: OpenImageOptions = {}): Promise<MountedImage> {
  const image = await resolveImage(ref, opts);
  const rootfs = new Tree({ store: opts.store ?? new MemoryStore() });
  const lazyStats: LazyStats = { requests: 0, bytesFetched: 0, blobBytes: 0 };
  let lazyLayers = 0;
  for (const [index, layer] of image.layers.entries()) {
    // Lazy pulling is tried only for compressed layers annotated with a TOC digest (what
    // eStargz / zstd:chunked producers write): probing every layer's tail would cost a
    // request per ordinary layer. A tail that holds no footer falls back to the full pull.
    if (opts.lazy !== false && layerCompression(layer.mediaType) !== 'none' && layer.annotations?.[TOC_DIGEST_ANNOTATION]) {
      const chunkCache = opts.lazyOptions?.chunkCache ?? (opts.cache ? chunkCacheOf(opts.cache) : undefined);
      const lazy = await openLazyLayer(image, layer, { ...opts, ...opts.lazyOptions, ...(chunkCache ? { chunkCache } : {}), stats: lazyStats });
      if (lazy) {
        const stats = await rootfs.applyEntries(lazy.entries, { name: layer.digest, logger: opts.logger });
        lazyLayers++;
        opts.onLayer?.({ index, digest: layer.digest, entries: stats.entries, bytes: lazy.store.size, lazy: true });
        continue;
      }
    }
    // applyLayer reads the stream to its end, and the stream fails there on a digest
    // mismatch, so a tree is only returned once every layer has been verified.
    const stats = await rootfs.applyLayer(openLayer(image, layer, opts), { name: layer.digest });
    opts.onLayer?.({ index, digest: layer.digest, ...stats });
  }
  // Async: lazily pulled files (e.g. /etc/passwd) are read over the network.
  const runtimeSpec = await generateRuntimeSpec(image.config, rootfs);
  const tree = buildRouteTree(rootfs, {
    'config.json': new TextEncoder().encode(JSON.stringify(runtimeSpec, null, 2) + '\n'),
    'imageconfig.json': image.configBytes,
  });
  return { image, rootfs, tree, runtimeSpec, ...(lazyLayers > 0 ? { lazy: lazyStats } : {}) };
}

export { manifestEntries, type ManifestEntry } from './manifest.js';
export * from '../oci/index.js';
export { IndexedDbCache, idbKeyValueStores, chunkCacheOf, type IndexedDbCacheOptions, type KeyValueStore } from './cache/index.js';
export * from './fs/index.js';
export * from '../p9/index.js';
export { openLazyLayer, type LazyLayer, type LazyLayerOptions, type LazyStats, type ChunkCache } from '../estargz/index.js';
export { createImageNetwork, type ImageNetworkOptions } from './image-network.js';
export {
  attachLink,
  encodeFrame,
  FrameDecoder,
  frameLinkOverBytes,
  NETWORK,
  NetStack,
  PcapWriter,
  type FrameLink,
  type NetStackOptions,
  type TcpConnection,
} from './net/index.js';
// container2wasm's SharedArrayBuffer rings: the stack worker's and the VM worker's ends.
export { attachStackToRings, createRingBuffers, vmRingEndpoint, writeMeta, type RingBuffers } from './transport/rings.js';
export { mountImage, type MountImageOptions, type MountedImageSession, type AttachedLink, type AttachedRings, type AttachOptions, type ByteLinkTransport } from './mount.js';
// container2wasm's page and VM-worker API, and the VM end of its rings.
export {
  createContainerWASI,
  createContainerQEMUWasm,
  pumpRings,
  serveStackOnWebSocketLink,
  startContainer,
  stopContainerStack,
  type ContainerInfo,
  type RingPump,
  type RingPumpOptions,
  type RingPumpStats,
  type TtyClient,
} from './c2w/index.js';
