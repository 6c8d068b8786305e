// The narrow, read-only filesystem the 9P server serves. Filesystems never see wire bytes,
// fids or tags: they answer questions about opaque nodes. Parents are not asked for:
// the server keeps each fid's walk path and resolves `..` itself.
// Any method may throw P9Error(errno) to answer with that errno; other exceptions become EIO.

export type P9FileType = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface P9Time {
  sec: number;
  nsec: number;
}

export interface P9Attr {
  /** Unique per file across everything the FS serves, shared by hard links (→ qid.path, st_ino). */
  qidPath: bigint | number;
  type: P9FileType;
  /** Permission bits 07777; the server adds the S_IFMT bits from `type`. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: { major: number; minor: number };
  size: number;
  /** Preferred I/O size (st_blksize). */
  blksize: number;
  /** 512-byte units (st_blocks). */
  blocks: number;
  atime: P9Time;
  mtime: P9Time;
  ctime: P9Time;
  /** Optional extras: reported (and flagged valid) only when present. */
  btime?: P9Time;
  gen?: number;
  dataVersion?: number;
}

export interface P9DirEntry<N> {
  /** Never '.', '..', empty, or containing '/'. */
  name: string;
  node: N;
}

export interface P9StatFs {
  /** f_type; 0x01021997 (V9FS_MAGIC) is what a local v9fs mount reports. */
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  fsid: bigint;
  namelen: number;
}

/** Nodes are opaque to the server; objects, so `undefined` can mean "no such name". */
export type P9Node = object;

export interface P9FileSystem<N extends P9Node = P9Node> {
  root(): N;
  attr(node: N): P9Attr;
  /** One path component (never '.', '..' or containing '/'); symlinks are not followed. */
  lookup(dir: N, name: string): N | undefined;
  /**
   * The directory's entries, without '.' and '..'. The server takes this as a snapshot
   * when a listing starts (readdir offset 0) and indexes into it for the following calls,
   * so cookies stay stable while a listing is in progress.
   */
  readdir(dir: N): readonly P9DirEntry<N>[];
  /**
   * Up to `count` bytes at `offset` of a regular file; fewer only at end of file, empty
   * past it. May be asynchronous (lazy fetch): the server keeps serving other requests.
   * The server may hold the returned array until the reply is encoded, then drops it.
   */
  read(node: N, offset: number, count: number): Uint8Array | Promise<Uint8Array>;
  /** Only called on symlinks. */
  readlink(node: N): string;
  listXattrs(node: N): readonly string[];
  /** undefined: the attribute does not exist (ENODATA). */
  getXattr(node: N, name: string): Uint8Array | undefined;
  statfs(): P9StatFs;
}

export const V9FS_MAGIC = 0x01021997;
