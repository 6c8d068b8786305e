// Serves a Tree (normally the route tree) through the 9P server's filesystem interface.
// Inode numbers come from one allocator shared across the route tree, so `ino` is a
// qid.path that is unique across everything served and shared by hard links.

import type { P9Attr, P9DirEntry, P9FileSystem, P9StatFs } from '../../p9/index.js';
import type { Inode, Tree } from './tree.js';

const BLOCK = 4096;
/** What a local v9fs mount reports as f_type. */
const V9FS_MAGIC = 0x01021997;
/** "imgm": any constant works; it only has to stay the same for the mount's lifetime. */
const FSID = 0x696d676dn;

export function treeFileSystem(tree: Tree): P9FileSystem<Inode> {
  // statfs needs a full walk; the served tree does not change once mounted, so walk once.
  let stats: P9StatFs | undefined;
  return {
    root: () => tree.root,
    attr: inodeAttr,
    lookup: (dir, name) => dir.children?.get(name),
    readdir(dir): P9DirEntry<Inode>[] {
      const out: P9DirEntry<Inode>[] = [];
      for (const [name, node] of dir.children ?? []) out.push({ name, node });
      return out;
    },
    read: (node, offset, count) => tree.read(node, offset, count),
    readlink: (node) => node.linkTarget ?? '',
    listXattrs: (node) => [...node.xattrs.keys()],
    getXattr: (node, name) => node.xattrs.get(name),
    statfs: () => (stats ??= treeStats(tree)),
  };
}

function inodeAttr(n: Inode): P9Attr {
  return {
    qidPath: n.ino,
    type: n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    nlink: n.nlink,
    rdev: n.rdev,
    size: n.size,
    blksize: BLOCK,
    // Symlinks and devices hold no data blocks (as ext4 fast symlinks show).
    blocks: n.type === 'reg' || n.type === 'dir' ? Math.ceil(n.size / 512) : 0,
    atime: n.atime,
    mtime: n.mtime,
    ctime: n.ctime,
  };
}

function treeStats(tree: Tree): P9StatFs {
  const seen = new Set<number>();
  let blocks = 0;
  for (const [, n] of tree.walk()) {
    if (seen.has(n.ino)) continue; // hard links
    seen.add(n.ino);
    blocks += Math.ceil(n.size / BLOCK);
  }
  // Read-only: nothing free, so `df` shows the image as full rather than writable.
  return { type: V9FS_MAGIC, bsize: BLOCK, blocks, bfree: 0, bavail: 0, files: seen.size, ffree: 0, fsid: FSID, namelen: 255 };
}
