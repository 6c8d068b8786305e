// The merged root filesystem: an in-memory inode tree whose regular files point into a
// ContentStore. Layers are applied by ./layer.ts; this file holds the shape and the
// read-only queries the 9P server needs.

import { applyEntries, applyLayer, type LayerEntry } from './layer.js';
import { normalisePath } from './paths.js';
import { MemoryStore, type ContentStore } from './store.js';
import type { ByteSource, Timespec } from './tar.js';
import type { Logger } from '../../oci/types.js';

export type { Timespec } from './tar.js';

export type FileType = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';

export interface Inode {
  /** Unique among all inodes sharing one InoAllocator, stable; hard links share one Inode object. */
  ino: number;
  type: FileType;
  /** Permission bits incl. setuid/setgid/sticky (07777), no type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** reg: content length; symlink: target length in UTF-8 bytes; dir: always 4096, as ext4 shows. */
  size: number;
  /** Non-dirs: number of names; dir: 2 + number of subdirectories. */
  nlink: number;
  mtime: Timespec;
  atime: Timespec;
  ctime: Timespec;
  rdev: { major: number; minor: number };
  linkTarget?: string;
  xattrs: Map<string, Uint8Array>;
  /** Dirs: insertion-ordered, which gives a stable readdir order. */
  children?: Map<string, Inode>;
  content?: { store: ContentStore; offset: number };
}

export const DIR_SIZE = 4096;
/** Symlinks followed while resolving one path, as Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/** Hands out inode numbers; share one between trees whose inodes are served together. */
export class InoAllocator {
  private n: number;
  /** Starts at 1: some readdir consumers skip entries whose inode number is 0. */
  constructor(base = 1) {
    this.n = base;
  }
  next(): number {
    return this.n++;
  }
  /** The number the next inode will get. */
  get peek(): number {
    return this.n;
  }
}

export interface InodeInit {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Timespec;
  atime?: Timespec;
  ctime?: Timespec;
  rdev?: { major: number; minor: number };
  linkTarget?: string;
  xattrs?: Map<string, Uint8Array>;
}

export interface TreeOptions {
  store?: ContentStore;
  /** First inode number, when no `inos` is given (default 1). */
  inoBase?: number;
  /** Share inode numbering with another tree (takes precedence over inoBase). */
  inos?: InoAllocator;
}

export interface ApplyOptions {
  /** Names the layer in error messages (e.g. its digest). */
  name?: string;
  logger?: Logger;
}

export class Tree {
  readonly root: Inode;
  readonly store: ContentStore;
  readonly inos: InoAllocator;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: TreeOptions = {}) {
    this.store = opts.store ?? new MemoryStore();
    this.inos = opts.inos ?? new InoAllocator(opts.inoBase ?? 1);
    this.root = this.newInode('dir', { mode: 0o755 });
  }

  /**
   * Apply one layer's tar stream on top (OCI image-spec layer changeset semantics).
   * Calls are serialised in call order, since layer order matters and file contents must
   * land contiguously in the store. `entries` counts tar entries, `bytes` tar bytes read.
   */
  applyLayer(tar: ByteSource, opts: ApplyOptions = {}): Promise<{ entries: number; bytes: number }> {
    const run = this.queue.then(() => applyLayer(this, tar, opts));
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Apply one layer given as entries rather than a tar stream (same semantics as
   * applyLayer); regular files may point into another store (lazily fetched layers).
   * Serialised with applyLayer calls.
   */
  applyEntries(entries: Iterable<LayerEntry>, opts: ApplyOptions = {}): Promise<{ entries: number }> {
    const run = this.queue.then(() => applyEntries(this, entries, opts));
    this.queue = run.catch(() => {});
    return run;
  }

  /** The inode at `path` ('/a/b' or 'a/b'); symlinks are not followed. */
  lookup(path: string): Inode | undefined {
    let parts: string[];
    try {
      parts = normalisePath(path);
    } catch {
      return undefined; // a path that escapes the root names nothing in it
    }
    let node: Inode | undefined = this.root;
    for (const part of parts) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  /**
   * The inode at `path` with symlinks followed inside this tree, as a container process
   * would see it: absolute targets and `..` stay within the root.
   */
  resolve(path: string): Inode | undefined {
    return this.walkPath(path.split('/'), true)?.node;
  }

  /** File bytes [offset, offset+length), clamped to the file size; past EOF → empty. */
  async read(inode: Inode, offset: number, length: number): Promise<Uint8Array> {
    const c = inode.content;
    if (!c || offset >= inode.size || length <= 0) return new Uint8Array(0);
    const n = Math.min(length, inode.size - offset);
    return c.store.read(c.offset + offset, n);
  }

  /** Depth-first, root first as '/', children in insertion order. */
  *walk(): Iterable<[path: string, inode: Inode]> {
    const stack: [string, Inode][] = [['/', this.root]];
    while (stack.length > 0) {
      const [path, node] = stack.pop()!;
      yield [path, node];
      if (!node.children) continue;
      const prefix = path === '/' ? '/' : path + '/';
      const kids = [...node.children];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([prefix + kids[i]![0], kids[i]![1]]);
    }
  }

  /** Create a directory (and missing parents, 0755 root-owned) or return the existing one. */
  mkdir(path: string, init: InodeInit = {}): Inode {
    let dir = this.root;
    const parts = normalisePath(path);
    parts.forEach((part, i) => {
      const child = dir.children!.get(part);
      if (child?.type === 'dir') {
        dir = child;
        return;
      }
      if (child) throw new Error(`mkdir ${path}: ${part} exists and is not a directory`);
      const made = this.newInode('dir', i === parts.length - 1 ? init : { mode: 0o755 });
      this.link(dir, part, made);
      dir = made;
    });
    return dir;
  }

  /** Create (or replace) a regular file holding a copy of `bytes`. */
  writeFile(path: string, bytes: Uint8Array, init: InodeInit = {}): Inode {
    const parts = normalisePath(path);
    const name = parts.pop();
    if (name === undefined) throw new Error('writeFile: the root is a directory');
    const dir = this.mkdir(parts.join('/'));
    const file = this.newInode('reg', { mode: 0o644, ...init });
    file.content = { store: this.store, offset: this.store.append(bytes) };
    file.size = bytes.length;
    this.unlink(dir, name);
    this.link(dir, name, file);
    return file;
  }

  /** Put an existing inode (e.g. another tree's root) at `path`, replacing what is there. */
  attach(path: string, inode: Inode): void {
    const parts = normalisePath(path);
    const name = parts.pop();
    if (name === undefined) throw new Error('attach: cannot replace the root');
    const dir = this.mkdir(parts.join('/'));
    this.unlink(dir, name);
    this.link(dir, name, inode);
  }

  // ---- used by ./layer.ts and the methods above; not part of the public entry ----

  /** @internal */
  newInode(type: FileType, init: InodeInit): Inode {
    const mtime = init.mtime ?? { sec: 0, nsec: 0 };
    const node: Inode = {
      ino: this.inos.next(),
      type,
      mode: (init.mode ?? 0) & 0o7777,
      uid: init.uid ?? 0,
      gid: init.gid ?? 0,
      size: type === 'dir' ? DIR_SIZE : 0,
      nlink: type === 'dir' ? 2 : 0,
      mtime,
      atime: init.atime ?? mtime,
      ctime: init.ctime ?? mtime,
      rdev: init.rdev ?? { major: 0, minor: 0 },
      xattrs: init.xattrs ?? new Map(),
    };
    if (type === 'dir') node.children = new Map();
    if (type === 'symlink') {
      node.linkTarget = init.linkTarget ?? '';
      node.size = utf8Length(node.linkTarget);
    }
    return node;
  }

  /** @internal Add a name; the caller has removed any previous one. */
  link(dir: Inode, name: string, node: Inode): void {
    dir.children!.set(name, node);
    if (node.type === 'dir') dir.nlink++;
    else node.nlink++;
  }

  /** @internal Remove a name (and, for a dir, its subtree), keeping link counts right. */
  unlink(dir: Inode, name: string): void {
    const node = dir.children!.get(name);
    if (!node) return;
    dir.children!.delete(name);
    if (node.type !== 'dir') {
      node.nlink--;
      return;
    }
    dir.nlink--;
    // Files in the dropped subtree may have hard links elsewhere that must not keep
    // counting these names.
    const stack = [node];
    while (stack.length > 0) {
      for (const child of stack.pop()!.children!.values()) {
        if (child.type === 'dir') stack.push(child);
        else child.nlink--;
      }
    }
  }

  /**
   * @internal Walk components from the root, following symlinks in every component but
   * the last (and the last too when `followLast`), never leaving the root. Returns the
   * inode and its symlink-free path.
   */
  walkPath(path: readonly string[], followLast: boolean): { node: Inode; real: string[] } | undefined {
    const pending = [...path].reverse();
    const real: string[] = [];
    const nodes: Inode[] = [this.root];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.pop()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (real.length > 0) {
          real.pop();
          nodes.pop();
        }
        continue;
      }
      const child = nodes[nodes.length - 1]!.children?.get(part);
      if (!child) return undefined;
      if (child.type === 'symlink' && (followLast || pending.some((p) => p !== '' && p !== '.'))) {
        if (++hops > MAX_SYMLINKS) return undefined;
        const target = child.linkTarget ?? '';
        if (target.startsWith('/')) {
          real.length = 0;
          nodes.length = 1;
        }
        for (const p of target.split('/').reverse()) pending.push(p);
        continue;
      }
      real.push(part);
      nodes.push(child);
    }
    return { node: nodes[nodes.length - 1]!, real };
  }
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
