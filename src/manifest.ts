// A line per entry of the served tree, read back through the same Tree API the 9P server
// uses, so it is the ground truth that later tests (a real kernel, a browser) compare to.
import { createSHA256 } from 'hash-wasm';
import type { Inode, Tree } from './fs/index.js';

export interface ManifestEntry {
  path: string;
  type: Inode['type'];
  /** Permission bits incl. setuid/setgid/sticky, as an octal string such as "0755". */
  mode: string;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  linkTarget?: string;
  rdev?: string;
  sha256?: string;
  /** Extended attributes, values in base64 (they are binary, e.g. security.capability). */
  xattrs: Record<string, string>;
  /** ISO 8601 with nine fraction digits. */
  mtime: string;
}

const READ_CHUNK = 1 << 20;

export async function* manifestEntries(tree: Tree): AsyncGenerator<ManifestEntry> {
  for (const [path, inode] of tree.walk()) {
    const entry: ManifestEntry = {
      path,
      type: inode.type,
      mode: inode.mode.toString(8).padStart(4, '0'),
      uid: inode.uid,
      gid: inode.gid,
      size: inode.size,
      nlink: inode.nlink,
      xattrs: encodeXattrs(inode.xattrs),
      mtime: isoNanos(inode.mtime.sec, inode.mtime.nsec),
    };
    if (inode.type === 'symlink') entry.linkTarget = inode.linkTarget;
    if (inode.type === 'char' || inode.type === 'block') entry.rdev = `${inode.rdev.major},${inode.rdev.minor}`;
    if (inode.type === 'reg') entry.sha256 = await sha256Of(tree, inode);
    yield entry;
  }
}

async function sha256Of(tree: Tree, inode: Inode): Promise<string> {
  const hasher = await createSHA256();
  hasher.init();
  for (let offset = 0; offset < inode.size; ) {
    const bytes = await tree.read(inode, offset, Math.min(READ_CHUNK, inode.size - offset));
    if (bytes.length === 0) throw new Error(`file of inode ${inode.ino} ends at ${offset}, before its size ${inode.size}`);
    hasher.update(bytes);
    offset += bytes.length;
  }
  return hasher.digest('hex');
}

function encodeXattrs(xattrs: Map<string, Uint8Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of [...xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out[name] = base64(value);
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function isoNanos(sec: number, nsec: number): string {
  const iso = new Date(sec * 1000).toISOString(); // 1970-01-01T00:00:00.000Z
  return `${iso.slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
}
