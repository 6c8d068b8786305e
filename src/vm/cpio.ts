// A cpio "newc" archive writer: the format the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Isomorphic, no I/O:
// entries in, bytes out; the caller compresses (the kernel takes gzip or plain cpio).

export type CpioEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; data: Uint8Array | string; mode?: number }
  | { path: string; type: 'symlink'; target: string }
  /** A device node (c or b) with its major and minor. */
  | { path: string; type: 'char' | 'block'; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const TRAILER = 'TRAILER!!!';
const encoder = new TextEncoder();

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/**
 * The archive for `entries`, in the given order (parents must come before children:
 * the kernel creates each entry as it reads it). Owner root:root, mtime 0, so the same
 * entries always give the same bytes. Paths are relative (`bin/sh`, not `/bin/sh`).
 */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  let ino = 1;
  const push = (b: Uint8Array) => {
    parts.push(b);
    total += b.length;
  };
  const record = (path: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]) => {
    const name = encoder.encode(path.replace(/^\/+/, '') + '\0');
    const header =
      '070701' +
      hex8(ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(mode & S_IFDIR ? 2 : 1) + // nlink
      hex8(0) + // mtime
      hex8(data.length) +
      hex8(0) + // dev major
      hex8(0) + // dev minor
      hex8(rdev[0]) +
      hex8(rdev[1]) +
      hex8(name.length) +
      hex8(0); // check
    push(encoder.encode(header));
    push(name);
    // The header (110 bytes) plus the name is padded to 4 bytes, then the data.
    push(new Uint8Array(pad4(110 + name.length)));
    push(data);
    push(new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) {
    switch (e.type) {
      case 'dir':
        record(e.path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0));
        break;
      case 'file':
        record(e.path, S_IFREG | (e.mode ?? 0o644), typeof e.data === 'string' ? encoder.encode(e.data) : e.data);
        break;
      case 'symlink':
        record(e.path, S_IFLNK | 0o777, encoder.encode(e.target));
        break;
      case 'char':
      case 'block':
        record(e.path, (e.type === 'char' ? S_IFCHR : S_IFBLK) | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor]);
        break;
    }
  }
  record(TRAILER, 0, new Uint8Array(0));
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
