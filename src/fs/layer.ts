// One layer changeset applied onto a Tree, following the OCI image-spec (layer.md):
// whiteouts, opaque directories, implicit parents, replacement by type, hard links.

import { ImageError } from '../../oci/errors.js';
import { normalisePath } from './paths.js';
import { readTar, type ByteSource, type TarEntry } from './tar.js';
import type { ContentStore } from './store.js';
import type { ApplyOptions, Inode, Tree } from './tree.js';

/**
 * A layer entry that does not come from a tar stream: a regular file may carry its
 * content as a range of another store (e.g. an eStargz layer read lazily) instead of
 * bytes appended to the tree's store.
 */
export type LayerEntry = TarEntry & { content?: { store: ContentStore; offset: number } };

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export async function applyLayer(
  tree: Tree,
  tar: ByteSource,
  opts: ApplyOptions,
): Promise<{ entries: number; bytes: number }> {
  const layer = new LayerApplier(tree, opts.name ?? 'layer');
  return readTar(tar, (entry) => layer.apply(entry), opts);
}

/**
 * Apply entries that are not a tar stream, with the same changeset semantics as
 * applyLayer. A regular file without `content` must be empty (size 0).
 */
export function applyEntries(tree: Tree, entries: Iterable<LayerEntry>, opts: ApplyOptions): { entries: number } {
  const layer = new LayerApplier(tree, opts.name ?? 'layer');
  let n = 0;
  for (const e of entries) {
    n++;
    if (e.type === 'reg' && !e.content && e.size !== 0) {
      throw new ImageError('BAD_TAR', `entry ${JSON.stringify(e.name)} in ${opts.name ?? 'layer'} has ${e.size} bytes but no content`);
    }
    layer.apply(e);
  }
  return { entries: n };
}

class LayerApplier {
  /**
   * Names (per directory) that this layer created, replaced or passed through. Whiteouts
   * and opaque markers only hide what lower layers put there, so these must survive
   * them whatever the entry order inside the tar.
   */
  private readonly touched = new Map<Inode, Set<string>>();

  constructor(
    private readonly tree: Tree,
    private readonly layer: string,
  ) {}

  apply(e: LayerEntry): ((chunk: Uint8Array) => void) | void {
    const parts = normalisePath(e.name, this.layer);
    const name = parts.pop();
    if (name === undefined) return this.applyRoot(e);
    if (name.startsWith(WHITEOUT)) return this.whiteout(parts, name);

    const dir = this.parent(parts);
    this.touch(dir, name);
    const existing = dir.children!.get(name);

    if (e.type === 'dir' && existing?.type === 'dir') {
      // A directory seen again keeps its children; only its metadata changes.
      setMeta(existing, e);
      return;
    }
    if (e.type === 'link') return this.hardLink(e, dir, name, existing);

    const node = this.tree.newInode(e.type, {
      // Linux shows every symlink as 0777 whatever the tar header says (the kernel ignores it).
      mode: e.type === 'symlink' ? 0o777 : e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      atime: e.atime,
      ctime: e.ctime,
      rdev: e.type === 'char' || e.type === 'block' ? { major: e.devmajor, minor: e.devminor } : undefined,
      linkTarget: e.type === 'symlink' ? (e.linkname ?? '') : undefined,
      xattrs: e.xattrs,
    });
    this.tree.unlink(dir, name);
    this.tree.link(dir, name, node);
    if (e.type !== 'reg') return;
    if (e.content) {
      node.content = e.content;
      node.size = e.size;
      return;
    }

    const store = this.tree.store;
    node.content = { store, offset: store.size };
    node.size = e.size;
    let expected = store.size;
    return (chunk) => {
      // Contents are addressed as one range, so nothing else may append meanwhile.
      const at = store.append(chunk);
      if (at !== expected) throw new Error(`content store written concurrently while applying ${this.layer}`);
      expected += chunk.byteLength;
    };
  }

  private applyRoot(e: TarEntry): void {
    if (e.type !== 'dir') {
      throw new ImageError('BAD_PATH', `entry ${JSON.stringify(e.name)} in ${this.layer} names the image root but is not a directory`);
    }
    setMeta(this.tree.root, e);
  }

  private whiteout(parts: string[], name: string): void {
    if (name === OPAQUE) {
      // The marker implies its directory exists in this layer.
      this.prune(this.parent(parts));
      return;
    }
    // Other `.wh..wh.` names are AUFS bookkeeping (e.g. `.wh..wh.plnk`), not user files.
    if (name.startsWith(WHITEOUT + WHITEOUT)) return;
    const dir = this.tree.walkPath(parts, true)?.node;
    if (dir?.type !== 'dir') return; // nothing there to hide
    const target = name.slice(WHITEOUT.length);
    if (this.touched.get(dir)?.has(target)) return;
    this.tree.unlink(dir, target);
  }

  /** Opaque directory: drop everything lower layers put under `dir`. */
  private prune(dir: Inode): void {
    const keep = this.touched.get(dir);
    for (const [name, child] of [...dir.children!]) {
      if (!keep?.has(name)) this.tree.unlink(dir, name);
      // A directory this layer re-listed merged with the lower one; under an opaque
      // parent only what this layer put in it may remain.
      else if (child.type === 'dir') this.prune(child);
    }
  }

  private hardLink(e: TarEntry, dir: Inode, name: string, existing: Inode | undefined): void {
    const targetName = e.linkname ?? '';
    const found = this.tree.walkPath(normalisePath(targetName, this.layer), false)?.node;
    if (!found) {
      throw new ImageError(
        'BAD_TAR',
        `hard link ${JSON.stringify(e.name)} in ${this.layer} points to ${JSON.stringify(targetName)}, which does not exist`,
      );
    }
    if (found.type === 'dir') {
      throw new ImageError('BAD_TAR', `hard link ${JSON.stringify(e.name)} in ${this.layer} points to directory ${JSON.stringify(targetName)}`);
    }
    if (existing === found) return;
    this.tree.unlink(dir, name);
    this.tree.link(dir, name, found);
  }

  /**
   * The directory that holds an entry, created as needed (0755, root-owned, mtime 0).
   * Symlinked components are followed inside the root, as containerd does; one that
   * dangles or a non-directory in the way is replaced by a directory.
   */
  private parent(parts: string[]): Inode {
    let dir = this.tree.root;
    let real: string[] = [];
    for (const part of parts) {
      this.touch(dir, part);
      let child = dir.children!.get(part);
      if (child?.type === 'symlink') {
        const hit = this.tree.walkPath([...real, part], true);
        if (hit?.node.type === 'dir') {
          dir = hit.node;
          real = hit.real;
          continue;
        }
      }
      if (child?.type !== 'dir') {
        this.tree.unlink(dir, part);
        child = this.tree.newInode('dir', { mode: 0o755 });
        this.tree.link(dir, part, child);
      }
      dir = child;
      real.push(part);
    }
    return dir;
  }

  private touch(dir: Inode, name: string): void {
    let set = this.touched.get(dir);
    if (!set) this.touched.set(dir, (set = new Set()));
    set.add(name);
  }
}

function setMeta(node: Inode, e: TarEntry): void {
  node.mode = e.mode;
  node.uid = e.uid;
  node.gid = e.gid;
  node.mtime = e.mtime;
  node.atime = e.atime ?? e.mtime;
  node.ctime = e.ctime ?? e.mtime;
  node.xattrs = e.xattrs;
}

