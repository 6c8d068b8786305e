// The small image the p9 tests serve: every file type, a hard link, xattrs, devices,
// nanosecond times, a file larger than msize and a 5000-entry directory.
import { buildRouteTree, Tree, type Inode } from '../../src/fs/index.js';
import { chunked, tarOf, type E } from '../fs/helpers.js';

export const BIG_SIZE = 300_000;
export const MANY = 5000;

export function bigContent(): Uint8Array {
  const b = new Uint8Array(BIG_SIZE);
  let x = 12345;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export interface Fixture {
  rootfs: Tree;
  route: Tree;
  at(path: string): Inode;
}

let cached: Promise<Fixture> | undefined;

/** Built once per test file (tar-packing 5000 entries takes a moment). */
export function fixture(): Promise<Fixture> {
  return (cached ??= build());
}

async function build(): Promise<Fixture> {
  const entries: E[] = [
    { name: 'etc/', mode: 0o755 },
    { name: 'etc/hostname', content: 'box\n', uid: 1000, gid: 1001, pax: { mtime: '1700000000.123456789' } },
    { name: 'bin/', mode: 0o755 },
    { name: 'bin/busybox', content: 'x'.repeat(10_000), mode: 0o4755 },
    { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'dev/', mode: 0o755 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    { name: 'dev/huge', type: 'character-device', devmajor: 300, devminor: 70_000 },
    { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
    { name: 'xa', content: 'attrs', pax: { 'SCHILY.xattr.user.foo': 'bar', 'SCHILY.xattr.security.selinux': 'system_u:object_r:etc_t:s0' } },
    { name: 'big', content: bigContent() },
    { name: 'empty', content: '' },
    { name: 'many/', mode: 0o755 },
  ];
  for (let i = 0; i < MANY; i++) entries.push({ name: `many/f${String(i).padStart(4, '0')}`, content: '' });
  const rootfs = new Tree();
  await rootfs.applyLayer(chunked(await tarOf(entries)), { name: 'fixture' });
  const enc = new TextEncoder();
  const route = buildRouteTree(rootfs, {
    'config.json': enc.encode('{"ociVersion":"1.1.0"}'),
    'imageconfig.json': enc.encode('{"os":"linux"}'),
  });
  return {
    rootfs,
    route,
    at(path: string): Inode {
      const n = route.lookup(path);
      if (!n) throw new Error(`fixture has no ${path}`);
      return n;
    },
  };
}
