// Per-connection 9P2000.L state (fids, negotiated msize) and one handler per request.
// Handlers return the reply, or a promise of it when the filesystem is slow, and throw
// P9Error for Rlerror answers; tags, flush and framing belong to ./connection.ts.

import { DirentPacker } from './dirent.js';
import { Errno, P9Error } from './errno.js';
import type { P9Attr, P9DirEntry, P9FileSystem, P9FileType, P9Node } from './fs.js';
import { RDATA_HEADER, type Message, type Qid, type RMessage, type TMessage } from './messages.js';

/** Linux's MAXWELEM: the kernel never sends more names in one Twalk. */
export const MAX_WALK = 16;
/** P9_IOHDRSZ: what Linux subtracts from msize for an I/O header; iounit = msize - this. */
export const IOHDRSZ = 24;
const P9_GETATTR_BASIC = 0x7ffn;
const GETATTR_BTIME = 0x800n;
const GETATTR_GEN = 0x1000n;
const GETATTR_DATA_VERSION = 0x2000n;
// Tlopen flags are Linux open(2) flags (P9_DOTL_*): anything that could write is refused.
const DOTL_WRITE_MASK = 0o3 | 0o100 /* CREAT */ | 0o1000; /* TRUNC */
const DOTL_DIRECTORY = 0o200000;

const S_IFMT: Record<P9FileType, number> = {
  fifo: 0o010000, char: 0o020000, dir: 0o040000, block: 0o060000, reg: 0o100000, symlink: 0o120000, socket: 0o140000,
};
const DT: Record<P9FileType, number> = { fifo: 1, char: 2, dir: 4, block: 6, reg: 8, symlink: 10, socket: 12 };

/** Where a fid points, with the walk path back to the attach root so `..` needs no parent links. */
interface Loc {
  node: P9Node;
  up: Loc | undefined;
}
type Fid =
  | { kind: 'node'; loc: Loc; listing?: readonly P9DirEntry<P9Node>[] }
  | { kind: 'xattr'; data: Uint8Array };

export function qidOf(a: P9Attr): Qid {
  const type = a.type === 'dir' ? 0x80 : a.type === 'symlink' ? 0x02 : 0;
  return { type, version: 0, path: BigInt(a.qidPath) };
}

/** glibc's makedev layout, whose low 32 bits are what Linux's new_decode_dev reads. */
export function encodeDev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

const u64 = (n: number): bigint => BigInt(Math.trunc(n));

export class Session {
  readonly fids = new Map<number, Fid>();
  /** 0 until a Tversion for 9P2000.L succeeded. */
  msize = 0;

  constructor(private readonly fs: P9FileSystem) {}

  reset(): void {
    this.fids.clear();
    this.msize = 0;
  }

  /** Largest payload of an Rread/Rreaddir whose whole reply stays strictly below msize. */
  get maxPayload(): number {
    return this.msize - RDATA_HEADER - 1;
  }

  handle(m: TMessage): RMessage | Promise<RMessage> {
    const tag = m.tag;
    switch (m.type) {
      case 'Tattach': {
        this.unused(m.fid);
        // aname is ignored: there is one tree (the c2w mount passes none).
        const root = this.fs.root();
        this.fids.set(m.fid, { kind: 'node', loc: { node: root, up: undefined } });
        return { type: 'Rattach', tag, qid: qidOf(this.fs.attr(root)) };
      }
      case 'Twalk':
        return { type: 'Rwalk', tag, qids: this.walk(m.fid, m.newfid, m.wnames) };
      case 'Tlopen':
      case 'Topen': {
        const f = this.nodeFid(m.fid);
        const a = this.fs.attr(f.loc.node);
        const refused = m.type === 'Tlopen' ? m.flags & DOTL_WRITE_MASK : writeMode9P(m.mode);
        if (refused) throw new P9Error(Errno.EROFS);
        if (m.type === 'Tlopen' && m.flags & DOTL_DIRECTORY && a.type !== 'dir') throw new P9Error(Errno.ENOTDIR);
        delete f.listing; // a fresh open lists the directory afresh
        const r = { tag, qid: qidOf(a), iounit: this.msize - IOHDRSZ };
        return m.type === 'Tlopen' ? { type: 'Rlopen', ...r } : { type: 'Ropen', ...r };
      }
      case 'Tgetattr':
        return this.getattr(tag, this.fs.attr(this.nodeFid(m.fid).loc.node));
      case 'Treadlink': {
        const node = this.nodeFid(m.fid).loc.node;
        if (this.fs.attr(node).type !== 'symlink') throw new P9Error(Errno.EINVAL);
        return { type: 'Rreadlink', tag, target: this.fs.readlink(node) };
      }
      case 'Treaddir':
        return { type: 'Rreaddir', tag, data: this.readdir(m.fid, m.offset, m.count) };
      case 'Tread':
        return this.read(m);
      case 'Txattrwalk': {
        const node = this.nodeFid(m.fid).loc.node;
        if (m.newfid !== m.fid) this.unused(m.newfid);
        const data = m.name === '' ? listXattrs(this.fs.listXattrs(node)) : this.fs.getXattr(node, m.name);
        if (!data) throw new P9Error(Errno.ENODATA);
        this.fids.set(m.newfid, { kind: 'xattr', data });
        return { type: 'Rxattrwalk', tag, size: BigInt(data.length) };
      }
      case 'Tstatfs': {
        this.nodeFid(m.fid);
        const s = this.fs.statfs();
        return {
          type: 'Rstatfs', tag, fsType: s.type, bsize: s.bsize, blocks: u64(s.blocks), bfree: u64(s.bfree),
          bavail: u64(s.bavail), files: u64(s.files), ffree: u64(s.ffree), fsid: s.fsid, namelen: s.namelen,
        };
      }
      case 'Tclunk':
        this.fid(m.fid);
        this.fids.delete(m.fid);
        return { type: 'Rclunk', tag };
      case 'Tremove':
        // The fid is clunked even though the remove fails (9P remove(5)).
        this.fid(m.fid);
        this.fids.delete(m.fid);
        throw new P9Error(Errno.EROFS);
      case 'Tfsync':
        this.fid(m.fid);
        return { type: 'Rfsync', tag };
      case 'Tlock':
        this.fid(m.fid);
        return { type: 'Rlock', tag, status: 0 }; // P9_LOCK_SUCCESS: nobody can write anyway
      case 'Tgetlock': {
        this.fid(m.fid);
        const { start, length, procId, clientId } = m;
        return { type: 'Rgetlock', tag, lockType: 2 /* F_UNLCK */, start, length, procId, clientId };
      }
      case 'Tlcreate': case 'Tsymlink': case 'Tmknod': case 'Trename': case 'Tsetattr': case 'Txattrcreate':
      case 'Tlink': case 'Tmkdir': case 'Trenameat': case 'Tunlinkat': case 'Twrite': case 'Tcreate': case 'Twstat':
        throw new P9Error(Errno.EROFS);
      case 'Tauth': // no authentication required, as diod without auth
      case 'Tstat': // 9P2000(.u) only; a 9P2000.L client uses Tgetattr
      case 'Tversion': // handled by the connection
      case 'Tflush':
        throw new P9Error(Errno.EOPNOTSUPP);
    }
  }

  private fid(fid: number): Fid {
    const f = this.fids.get(fid);
    if (!f) throw new P9Error(Errno.EBADF, `unknown fid ${fid}`);
    return f;
  }

  private nodeFid(fid: number): Extract<Fid, { kind: 'node' }> {
    const f = this.fid(fid);
    if (f.kind !== 'node') throw new P9Error(Errno.EINVAL, `fid ${fid} is an xattr fid`);
    return f;
  }

  /** A new fid number already in use is EEXIST (diod answers EBADF; EEXIST says why). */
  private unused(fid: number): void {
    if (this.fids.has(fid)) throw new P9Error(Errno.EEXIST, `fid ${fid} in use`);
  }

  private walk(fid: number, newfid: number, names: readonly string[]): Qid[] {
    const f = this.nodeFid(fid);
    if (names.length > MAX_WALK) throw new P9Error(Errno.EINVAL);
    if (newfid !== fid) this.unused(newfid);
    let loc = f.loc;
    const qids: Qid[] = [];
    for (const name of names) {
      const next = this.step(loc, name);
      if (typeof next === 'number') {
        if (qids.length === 0) throw new P9Error(next);
        return qids; // partial walk: newfid is not created
      }
      loc = next;
      qids.push(qidOf(this.fs.attr(loc.node)));
    }
    // Replacing fid by itself only now, on full success, as walk(5) requires.
    this.fids.set(newfid, { kind: 'node', loc });
    return qids;
  }

  private step(loc: Loc, name: string): Loc | number {
    if (name === '' || name.includes('/') || name.includes('\0')) return Errno.EINVAL;
    if (this.fs.attr(loc.node).type !== 'dir') return Errno.ENOTDIR;
    if (name === '.') return loc;
    if (name === '..') return loc.up ?? loc; // the attach root is its own parent
    const node = this.fs.lookup(loc.node, name);
    return node === undefined ? Errno.ENOENT : { node, up: loc };
  }

  private getattr(tag: number, a: P9Attr): RMessage {
    let valid = P9_GETATTR_BASIC;
    if (a.btime) valid |= GETATTR_BTIME;
    if (a.gen !== undefined) valid |= GETATTR_GEN;
    if (a.dataVersion !== undefined) valid |= GETATTR_DATA_VERSION;
    return {
      type: 'Rgetattr', tag, valid, qid: qidOf(a), mode: S_IFMT[a.type] | (a.mode & 0o7777), uid: a.uid >>> 0, gid: a.gid >>> 0,
      nlink: u64(a.nlink), rdev: encodeDev(a.rdev.major, a.rdev.minor), size: u64(a.size), blksize: u64(a.blksize), blocks: u64(a.blocks),
      atimeSec: u64(a.atime.sec), atimeNsec: u64(a.atime.nsec), mtimeSec: u64(a.mtime.sec), mtimeNsec: u64(a.mtime.nsec),
      ctimeSec: u64(a.ctime.sec), ctimeNsec: u64(a.ctime.nsec), btimeSec: u64(a.btime?.sec ?? 0), btimeNsec: u64(a.btime?.nsec ?? 0),
      gen: u64(a.gen ?? 0), dataVersion: u64(a.dataVersion ?? 0),
    };
  }

  /**
   * Cookie k names entry k of ['.', '..', ...snapshot]; each dirent carries k+1. The
   * snapshot is taken at offset 0 (or on a fid that has none), so a listing split over
   * several calls neither skips nor repeats entries.
   */
  private readdir(fid: number, offset: bigint, count: number): Uint8Array {
    const f = this.nodeFid(fid);
    const a = this.fs.attr(f.loc.node);
    if (a.type !== 'dir') throw new P9Error(Errno.ENOTDIR);
    if (offset === 0n || !f.listing) f.listing = this.fs.readdir(f.loc.node);
    const listing = f.listing;
    const total = listing.length + 2;
    const packer = new DirentPacker(Math.min(count, this.maxPayload));
    for (let k = offset; k < BigInt(total); k++) {
      const i = Number(k);
      let name: string, attr: P9Attr;
      if (i === 0) [name, attr] = ['.', a];
      else if (i === 1) [name, attr] = ['..', f.loc.up ? this.fs.attr(f.loc.up.node) : a];
      else [name, attr] = [listing[i - 2]!.name, this.fs.attr(listing[i - 2]!.node)];
      if (packer.add({ qid: qidOf(attr), offset: k + 1n, type: DT[attr.type], name })) continue;
      // An empty reply means end of directory, so a count too small for one entry is an error.
      if (packer.length === 0) throw new P9Error(Errno.EINVAL, 'readdir count too small for one entry');
      break;
    }
    return packer.bytes();
  }

  /** Reads need no Tlopen first (Linux always opens; being lenient costs nothing read-only). */
  private read(m: Message<'Tread'>): RMessage | Promise<RMessage> {
    const f = this.fid(m.fid);
    const count = Math.min(m.count, this.maxPayload);
    const tag = m.tag;
    if (f.kind === 'xattr') {
      const at = m.offset >= BigInt(f.data.length) ? f.data.length : Number(m.offset);
      return { type: 'Rread', tag, data: f.data.subarray(at, at + count) };
    }
    const a = this.fs.attr(f.loc.node);
    if (a.type === 'dir') throw new P9Error(Errno.EISDIR);
    if (a.type !== 'reg') throw new P9Error(Errno.EINVAL);
    if (m.offset >= BigInt(a.size) || count === 0) return { type: 'Rread', tag, data: new Uint8Array(0) };
    const got = this.fs.read(f.loc.node, Number(m.offset), count);
    const reply = (data: Uint8Array): RMessage => ({ type: 'Rread', tag, data: data.length > count ? data.subarray(0, count) : data });
    // Normalised to a native promise: the connection tells pending work by `instanceof Promise`.
    return isPromise(got) ? Promise.resolve(got).then(reply) : reply(got);
  }
}

/** 9P2000 open modes: OWRITE 1, ORDWR 2, OTRUNC 0x10, ORCLOSE 0x40 all modify the file. */
function writeMode9P(mode: number): boolean {
  return (mode & 3) === 1 || (mode & 3) === 2 || (mode & 0x50) !== 0;
}

/** listxattr(2) format: each name NUL-terminated. */
function listXattrs(names: readonly string[]): Uint8Array {
  return new TextEncoder().encode(names.map((n) => n + '\0').join(''));
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}
