// The tree served to the VM (DESIGN.md "9P tree served"): the image rootfs plus the two
// config files the c2w init reads.

import { MemoryStore } from './store.js';
import { Tree } from './tree.js';

export interface RouteFiles {
  'config.json': Uint8Array;
  'imageconfig.json': Uint8Array;
}

/**
 * `/rootfs` is `rootfs.root` itself (same Inode objects, nothing copied), so reads and
 * later lookups see exactly the rootfs tree. The route tree draws inode numbers from the
 * rootfs tree's allocator, which keeps every ino (hence every 9P qid.path) unique across
 * the whole served tree, even if more layers were applied to the rootfs afterwards.
 */
export function buildRouteTree(rootfs: Tree, files: RouteFiles): Tree {
  const a = files['config.json'];
  const b = files['imageconfig.json'];
  // Sized to fit both files: the default 4 MiB segment would be mostly empty.
  const store = new MemoryStore({ segmentSize: Math.max(1, a.length + b.length) });
  const route = new Tree({ store, inos: rootfs.inos });
  route.attach('rootfs', rootfs.root);
  route.mkdir('config', { mode: 0o755 });
  route.writeFile('config/config.json', a, { mode: 0o444 });
  route.writeFile('config/imageconfig.json', b, { mode: 0o444 });
  return route;
}
