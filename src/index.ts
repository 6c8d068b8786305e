// The library entry: pull an image, verify every blob, merge its layers and expose the
// tree the VM mounts. Browser workers and Node share this file; Node-only edges
// (file: URLs, ~/.docker/config.json) live in src/node and are passed in as options.
import { openLayer, resolveImage, type PullOptions, type ResolvedImage } from '../oci/index.js';
import { buildRouteTree, generateRuntimeSpec, MemoryStore, Tree, type ContentStore } from './fs/index.js';

export interface OpenImageOptions extends PullOptions {
  /** Where decompressed file contents live; an in-memory segmented store by default. */
  store?: ContentStore;
  /** Called once per layer when it has been verified and applied. */
  onLayer?: (info: { index: number; digest: string; entries: number; bytes: number }) => void;
}

export interface MountedImage {
  image: ResolvedImage;
  /** The image's merged root filesystem. */
  rootfs: Tree;
  /** The tree served to the VM: rootfs/, config/config.json, config/imageconfig.json. */
  tree: Tree;
  /** The OCI runtime spec served as config/config.json. */
  runtimeSpec: object;
}

export async function openImage(ref: string, opts: OpenImageOptions = {}): Promise<MountedImage> {
  const image = await resolveImage(ref, opts);
  const rootfs = new Tree({ store: opts.store ?? new MemoryStore() });
  for (const [index, layer] of image.layers.entries()) {
    // applyLayer reads the stream to its end, and the stream fails there on a digest
    // mismatch, so a tree is only returned once every layer has been verified.
    const stats = await rootfs.applyLayer(openLayer(image, layer, opts), { name: layer.digest });
    opts.onLayer?.({ index, digest: layer.digest, ...stats });
  }
  const runtimeSpec = generateRuntimeSpec(image.config, rootfs);
  const tree = buildRouteTree(rootfs, {
    'config.json': new TextEncoder().encode(JSON.stringify(runtimeSpec, null, 2) + '\n'),
    'imageconfig.json': image.configBytes,
  });
  return { image, rootfs, tree, runtimeSpec };
}

export { manifestEntries, type ManifestEntry } from './manifest.js';
export * from '../oci/index.js';
export * from './fs/index.js';
export * from '../p9/index.js';
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
