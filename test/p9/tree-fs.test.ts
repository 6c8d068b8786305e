// treeFileSystem: the route tree seen through the P9FileSystem interface.
import { beforeAll, describe, expect, it } from 'vitest';
import { treeFileSystem } from '../../src/fs/index.js';
import { fixture, MANY, type Fixture } from './fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await fixture();
});

describe('treeFileSystem', () => {
  it('maps inodes to attributes, entries, bytes and xattrs', async () => {
    const fs = treeFileSystem(fx.route);
    expect(fs.root()).toBe(fx.route.root);
    const rootfs = fs.lookup(fs.root(), 'rootfs')!;
    expect(rootfs).toBe(fx.rootfs.root);
    const bb = fx.at('/rootfs/bin/busybox');
    expect(fs.attr(bb)).toMatchObject({ qidPath: bb.ino, type: 'reg', mode: 0o4755, nlink: 2, size: 10_000, blksize: 4096, blocks: 20 });
    expect(fs.attr(fx.at('/rootfs/bin/ls')).qidPath).toBe(bb.ino);
    expect(fs.attr(fx.at('/rootfs/dev/sda'))).toMatchObject({ type: 'block', rdev: { major: 8, minor: 0 }, blocks: 0 });
    expect(fs.readlink(fx.at('/rootfs/bin/sh'))).toBe('busybox');
    const many = fs.readdir(fx.at('/rootfs/many'));
    expect(many).toHaveLength(MANY);
    expect(many[42]).toEqual({ name: 'f0042', node: fx.at('/rootfs/many/f0042') });
    expect(fs.lookup(fx.at('/rootfs/etc'), 'nope')).toBeUndefined();
    expect(new TextDecoder().decode(await fs.read(fx.at('/rootfs/etc/hostname'), 1, 100))).toBe('ox\n');
    expect([...fs.listXattrs(fx.at('/rootfs/xa'))].sort()).toEqual(['security.selinux', 'user.foo']);
    expect(new TextDecoder().decode(fs.getXattr(fx.at('/rootfs/xa'), 'user.foo'))).toBe('bar');
    expect(fs.getXattr(fx.at('/rootfs/xa'), 'trusted.overlay.opaque')).toBeUndefined();
  });

  it('counts each inode once in statfs (hard links) and reports V9FS_MAGIC', () => {
    const fs = treeFileSystem(fx.route);
    const s = fs.statfs();
    const inos = new Set([...fx.route.walk()].map(([, n]) => n.ino));
    expect(s).toMatchObject({ type: 0x01021997, bsize: 4096, files: inos.size, bfree: 0, bavail: 0, namelen: 255 });
    expect(fs.statfs()).toBe(s);
  });
});
