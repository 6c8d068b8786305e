import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { treeFileSystem } from '../../src/fs/index.js';
import { Errno, P9Server, decodeDirents, encodeDev, type Dirent, type Message } from '../../p9/index.js';
import { bigContent, BIG_SIZE, fixture, MANY, type Fixture } from './fixture.js';
import { Client, session, takeProblems } from './harness.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await fixture();
});
afterEach(() => expect(takeProblems()).toEqual([]));
const fs = () => treeFileSystem(fx.route);
const NOFID = 0xffffffff;

async function listAll(c: Client, fid: number, count: number): Promise<Dirent[]> {
  const out: Dirent[] = [];
  let offset = 0n;
  for (;;) {
    const r = await c.call({ type: 'Treaddir', fid, offset, count }, 'Rreaddir');
    expect(r.data.length).toBeLessThanOrEqual(count);
    const ents = decodeDirents(r.data);
    if (ents.length === 0) return out;
    out.push(...ents);
    offset = ents[ents.length - 1]!.offset;
  }
}

describe('9P session: version and attach', () => {
  it('negotiates msize and version, and resets on a new Tversion', async () => {
    const c = new Client(new P9Server(fs()));
    // Before Tversion nothing else is served.
    expect(await c.err({ type: 'Tattach', fid: 0, afid: NOFID, uname: '', aname: '', nUname: 0 })).toBe(Errno.EPROTO);
    expect(await c.version(5_000_000)).toMatchObject({ msize: 4 * 1024 * 1024 + 24, version: '9P2000.L', tag: 0xffff });
    expect(await c.version(1 << 20)).toMatchObject({ msize: 1 << 20, version: '9P2000.L' });
    await c.attach(0);
    await c.walk(0, 1, 'rootfs/etc');
    await c.version(1 << 20);
    // The fids of the previous session are gone.
    expect(await c.err({ type: 'Tgetattr', fid: 1, requestMask: 0x7ffn })).toBe(Errno.EBADF);
    expect(await c.version(8192, '9P2000.u')).toMatchObject({ version: 'unknown' });
    expect(await c.err({ type: 'Tattach', fid: 0, afid: NOFID, uname: '', aname: '', nUname: 0 })).toBe(Errno.EPROTO);
    expect(await c.err({ type: 'Tversion', msize: 1000, version: '9P2000.L' })).toBe(Errno.EINVAL);
    expect(await c.version(8192, '9P2000.L.ext')).toMatchObject({ version: '9P2000.L', msize: 8192 });
    const small = new Client(new P9Server(fs(), { maxMsize: 4096 }));
    expect(await small.version(1 << 20)).toMatchObject({ msize: 4096 });
    expect(() => new P9Server(fs(), { maxMsize: 100 })).toThrow(RangeError);
  });

  it('attaches any user to the root, several times; no auth', async () => {
    const c = await session(fs());
    const a = await c.attach(5);
    expect(a.qid).toEqual({ type: 0x80, version: 0, path: BigInt(fx.route.root.ino) });
    await c.call({ type: 'Tattach', fid: 6, afid: NOFID, uname: 'nobody', aname: '/', nUname: 65534 }, 'Rattach');
    expect(await c.err({ type: 'Tattach', fid: 6, afid: NOFID, uname: '', aname: '', nUname: 0 })).toBe(Errno.EEXIST);
    expect(await c.err({ type: 'Tauth', afid: 9, uname: 'root', aname: '', nUname: 0 })).toBe(Errno.EOPNOTSUPP);
  });
});

describe('9P session: walk', () => {
  it('walks full paths, partially, through .. and clones', async () => {
    const c = await session(fs());
    const w = (await c.walk(0, 1, 'rootfs/etc/hostname')) as Message<'Rwalk'>;
    expect(w.qids.map((q) => q.path)).toEqual(['/rootfs', '/rootfs/etc', '/rootfs/etc/hostname'].map((p) => BigInt(fx.at(p).ino)));
    expect(w.qids.map((q) => q.type)).toEqual([0x80, 0x80, 0]);
    // Partial: qids so far, newfid not created.
    const p = (await c.walk(0, 2, 'rootfs/etc/nope/x')) as Message<'Rwalk'>;
    expect(p.qids).toHaveLength(2);
    expect(await c.err({ type: 'Tclunk', fid: 2 })).toBe(Errno.EBADF);
    expect(await c.err({ type: 'Twalk', fid: 0, newfid: 2, wnames: ['nope'] })).toBe(Errno.ENOENT);
    expect(await c.err({ type: 'Twalk', fid: 1, newfid: 2, wnames: ['x'] })).toBe(Errno.ENOTDIR);
    expect(await c.err({ type: 'Twalk', fid: 0, newfid: 2, wnames: ['a/b'] })).toBe(Errno.EINVAL);
    expect(await c.err({ type: 'Twalk', fid: 77, newfid: 2, wnames: [] })).toBe(Errno.EBADF);
    expect(await c.err({ type: 'Twalk', fid: 0, newfid: 1, wnames: ['rootfs'] })).toBe(Errno.EEXIST);
    expect(await c.err({ type: 'Twalk', fid: 0, newfid: 2, wnames: Array(17).fill('rootfs') })).toBe(Errno.EINVAL);
    // 16 names are fine: '..' at the root stays there.
    const sixteen = await c.call({ type: 'Twalk', fid: 0, newfid: 2, wnames: Array(16).fill('..') }, 'Rwalk');
    expect(sixteen.qids.every((q) => q.path === BigInt(fx.route.root.ino))).toBe(true);
    // '..' goes back along the walked path: rootfs/.. is the served root, not rootfs's own.
    const up = await c.call({ type: 'Twalk', fid: 0, newfid: 3, wnames: ['rootfs', 'etc', '..', '..', 'config'] }, 'Rwalk');
    expect(up.qids.map((q) => q.path)).toEqual(
      ['/rootfs', '/rootfs/etc', '/rootfs', '/', '/config'].map((x) => BigInt(fx.at(x).ino)),
    );
    // Clone (nwname 0) and newfid == fid.
    expect((await c.call({ type: 'Twalk', fid: 3, newfid: 4, wnames: [] }, 'Rwalk')).qids).toEqual([]);
    await c.call({ type: 'Twalk', fid: 4, newfid: 4, wnames: ['config.json'] }, 'Rwalk');
    const ga = await c.call({ type: 'Tgetattr', fid: 4, requestMask: 0x7ffn }, 'Rgetattr');
    expect(ga.qid.path).toBe(BigInt(fx.at('/config/config.json').ino));
    // A partial walk with newfid == fid leaves the fid where it was.
    const part = await c.call({ type: 'Twalk', fid: 3, newfid: 3, wnames: ['config.json', 'x'] }, 'Rwalk');
    expect(part.qids).toHaveLength(1);
    const p2 = (await c.walk(3, 3, '..')) as Message<'Rwalk'>;
    expect(p2.qids[0]!.path).toBe(BigInt(fx.route.root.ino));
  });

  it('gives hard links one qid.path, symlinks qid type 2, and every inode a unique path', async () => {
    const c = await session(fs());
    const a = (await c.walk(0, 1, 'rootfs/bin/busybox')) as Message<'Rwalk'>;
    const b = (await c.walk(0, 2, 'rootfs/bin/ls')) as Message<'Rwalk'>;
    expect(a.qids[2]!.path).toBe(b.qids[2]!.path);
    const s = (await c.walk(0, 3, 'rootfs/bin/sh')) as Message<'Rwalk'>;
    expect(s.qids[2]).toMatchObject({ type: 0x02, version: 0 });
    const seen = new Map<bigint, string>();
    for (const [path, node] of fx.route.walk()) {
      const prev = seen.get(BigInt(node.ino));
      if (prev) expect(fx.route.lookup(prev)).toBe(node);
      seen.set(BigInt(node.ino), path);
    }
    expect(seen.size).toBeGreaterThan(MANY);
  });
});

describe('9P session: getattr, readlink, statfs', () => {
  it('reports every basic field', async () => {
    const c = await session(fs());
    await c.walk(0, 1, 'rootfs/etc/hostname');
    const h = await c.call({ type: 'Tgetattr', fid: 1, requestMask: 0x3fffn }, 'Rgetattr');
    expect(h).toMatchObject({
      valid: 0x7ffn, mode: 0o100644, uid: 1000, gid: 1001, nlink: 1n, rdev: 0n, size: 4n, blksize: 4096n, blocks: 1n,
      mtimeSec: 1_700_000_000n, mtimeNsec: 123_456_789n, btimeSec: 0n, gen: 0n, dataVersion: 0n,
      qid: { type: 0, version: 0, path: BigInt(fx.at('/rootfs/etc/hostname').ino) },
    });
    const attr = async (path: string) => {
      await c.walk(0, 2, path);
      const r = await c.call({ type: 'Tgetattr', fid: 2, requestMask: 0x7ffn }, 'Rgetattr');
      await c.call({ type: 'Tclunk', fid: 2 }, 'Rclunk');
      return r;
    };
    expect(await attr('rootfs/bin/busybox')).toMatchObject({ mode: 0o104755, nlink: 2n, size: 10_000n, blocks: 20n });
    expect(await attr('rootfs/bin/sh')).toMatchObject({ mode: 0o120777, size: 7n, blocks: 0n });
    expect(await attr('rootfs/dev/null')).toMatchObject({ mode: 0o020666, rdev: 0x103n });
    expect(await attr('rootfs/dev/sda')).toMatchObject({ mode: 0o060660, rdev: 0x800n, gid: 6 });
    expect(await attr('rootfs/dev/fifo')).toMatchObject({ mode: 0o010600 });
    expect(await attr('rootfs/dev')).toMatchObject({ mode: 0o040755, size: 4096n, nlink: 2n });
    expect(await attr('')).toMatchObject({ mode: 0o040755, nlink: 4n });
    // glibc makedev layout; Linux's new_decode_dev reads the low 32 bits.
    const huge = await attr('rootfs/dev/huge');
    expect(huge.rdev).toBe(encodeDev(300, 70_000));
    const low = Number(huge.rdev & 0xffffffffn);
    expect([(low & 0xfff00) >> 8, (low & 0xff) | ((low >> 12) & 0xfff00)]).toEqual([300, 70_000]);
    expect(encodeDev(0x12345, 0x123456)).toBe(0x1200123434556n);
    expect(encodeDev(4095, 255)).toBe(0xfffffn);
  });

  it('reads links and answers statfs', async () => {
    const c = await session(fs());
    await c.walk(0, 1, 'rootfs/bin/sh');
    expect(await c.call({ type: 'Treadlink', fid: 1 }, 'Rreadlink')).toMatchObject({ target: 'busybox' });
    await c.walk(0, 2, 'rootfs/etc/hostname');
    expect(await c.err({ type: 'Treadlink', fid: 2 })).toBe(Errno.EINVAL);
    const s = await c.call({ type: 'Tstatfs', fid: 0 }, 'Rstatfs');
    expect(s).toMatchObject({ fsType: 0x01021997, bsize: 4096, namelen: 255, bfree: 0n, bavail: 0n, ffree: 0n });
    const unique = new Set([...fx.route.walk()].map(([, n]) => n.ino)).size;
    expect(s.files).toBe(BigInt(unique));
    expect(s.blocks).toBeGreaterThanOrEqual(BigInt(Math.ceil(BIG_SIZE / 4096)));
  });
});

describe('9P session: readdir', () => {
  it('lists . and .. first, then every entry once, across many small calls', async () => {
    const c = await session(fs());
    await c.open(1, 'rootfs/many');
    const all = await listAll(c, 1, 200);
    expect(all.slice(0, 2).map((d) => [d.name, d.type, d.qid.path])).toEqual([
      ['.', 4, BigInt(fx.at('/rootfs/many').ino)],
      ['..', 4, BigInt(fx.at('/rootfs').ino)],
    ]);
    const names = all.slice(2).map((d) => d.name);
    expect(names).toHaveLength(MANY);
    expect(new Set(names).size).toBe(MANY);
    expect(names).toEqual([...fx.at('/rootfs/many').children!.keys()]);
    expect(all.map((d) => d.offset)).toEqual(all.map((_, i) => BigInt(i + 1)));
    // Resuming from any cookie continues right after that entry.
    const r = await c.call({ type: 'Treaddir', fid: 1, offset: 1000n, count: 100 }, 'Rreaddir');
    expect(decodeDirents(r.data)[0]!.name).toBe(all[1000]!.name);
    // Past the end: empty; too small for one entry: EINVAL; not a directory: ENOTDIR.
    expect((await c.call({ type: 'Treaddir', fid: 1, offset: 99_999n, count: 100 }, 'Rreaddir')).data).toHaveLength(0);
    expect(await c.err({ type: 'Treaddir', fid: 1, offset: 0n, count: 10 })).toBe(Errno.EINVAL);
    await c.walk(0, 2, 'rootfs/etc/hostname');
    expect(await c.err({ type: 'Treaddir', fid: 2, offset: 0n, count: 1000 })).toBe(Errno.ENOTDIR);
  });

  it('gives entry types and qids, and at the root .. is the root', async () => {
    const c = await session(fs());
    await c.open(1, 'rootfs/dev');
    const d = await listAll(c, 1, 8192);
    expect(d.map((e) => [e.name, e.type])).toEqual([['.', 4], ['..', 4], ['null', 2], ['sda', 6], ['huge', 2], ['fifo', 1]]);
    await c.open(2, 'rootfs/bin');
    const b = await listAll(c, 2, 8192);
    expect(b.map((e) => [e.name, e.type, e.qid.type])).toEqual([['.', 4, 0x80], ['..', 4, 0x80], ['busybox', 8, 0], ['ls', 8, 0], ['sh', 10, 2]]);
    await c.call({ type: 'Tlopen', fid: 0, flags: 0 }, 'Rlopen');
    const root = await listAll(c, 0, 8192);
    expect(root.map((e) => e.name)).toEqual(['.', '..', 'rootfs', 'config']);
    expect(root[1]!.qid.path).toBe(BigInt(fx.route.root.ino));
  });

  it('never exceeds msize with a huge count', async () => {
    const c = await session(fs(), {}, 4096);
    await c.open(1, 'rootfs/many');
    const r = await c.call({ type: 'Treaddir', fid: 1, offset: 0n, count: 1 << 20 }, 'Rreaddir');
    expect(r.data.length).toBeLessThanOrEqual(4096 - 12);
    expect(r.data.length).toBeGreaterThan(4096 - 12 - 40);
    expect((await listAll(c, 1, 1 << 20)).length).toBe(MANY + 2);
  });
});

describe('9P session: read', () => {
  it('reads files, caps count below msize, returns 0 bytes at EOF', async () => {
    const msize = 65536;
    const c = await session(fs(), {}, msize);
    await c.walk(0, 1, 'rootfs/etc/hostname');
    const lo = await c.call({ type: 'Tlopen', fid: 1, flags: 0o100000 /* O_LARGEFILE */ }, 'Rlopen');
    expect(lo).toMatchObject({ iounit: msize - 24, qid: { type: 0 } });
    expect(new TextDecoder().decode((await c.call({ type: 'Tread', fid: 1, offset: 0n, count: 100 }, 'Rread')).data)).toBe('box\n');
    expect(new TextDecoder().decode((await c.call({ type: 'Tread', fid: 1, offset: 1n, count: 2 }, 'Rread')).data)).toBe('ox');
    expect((await c.call({ type: 'Tread', fid: 1, offset: 4n, count: 100 }, 'Rread')).data).toHaveLength(0);
    expect((await c.call({ type: 'Tread', fid: 1, offset: 1n << 62n, count: 100 }, 'Rread')).data).toHaveLength(0);
    await c.open(2, 'rootfs/big');
    const want = bigContent();
    const got = new Uint8Array(BIG_SIZE);
    let off = 0;
    for (;;) {
      const r = await c.call({ type: 'Tread', fid: 2, offset: BigInt(off), count: 1 << 20 }, 'Rread');
      if (r.data.length === 0) break;
      expect(r.data.length).toBeLessThanOrEqual(msize - 12);
      got.set(r.data, off);
      off += r.data.length;
    }
    expect(off).toBe(BIG_SIZE);
    expect(got.every((b, i) => b === want[i])).toBe(true); // toEqual on 300 kB is slow
    await c.open(3, 'rootfs/empty');
    expect((await c.call({ type: 'Tread', fid: 3, offset: 0n, count: 10 }, 'Rread')).data).toHaveLength(0);
    // Directories, symlinks and devices have no readable data.
    await c.open(4, 'rootfs/etc');
    expect(await c.err({ type: 'Tread', fid: 4, offset: 0n, count: 10 })).toBe(Errno.EISDIR);
    await c.walk(0, 5, 'rootfs/bin/sh');
    expect(await c.err({ type: 'Tread', fid: 5, offset: 0n, count: 10 })).toBe(Errno.EINVAL);
    expect(await c.err({ type: 'Tread', fid: 99, offset: 0n, count: 10 })).toBe(Errno.EBADF);
    // Reads need no Tlopen (lenient; Linux always opens first).
    await c.walk(0, 6, 'config/imageconfig.json');
    expect(new TextDecoder().decode((await c.call({ type: 'Tread', fid: 6, offset: 0n, count: 100 }, 'Rread')).data)).toBe('{"os":"linux"}');
    // 9P2000 Topen for reading works too; Tstat is not 9P2000.L.
    expect(await c.call({ type: 'Topen', fid: 6, mode: 0 }, 'Ropen')).toMatchObject({ iounit: msize - 24 });
    expect(await c.err({ type: 'Topen', fid: 6, mode: 1 })).toBe(Errno.EROFS);
    expect(await c.err({ type: 'Tstat', fid: 6 })).toBe(Errno.EOPNOTSUPP);
  });
});

describe('9P session: xattrs', () => {
  it('lists, gets and reads xattrs; absent ones are ENODATA', async () => {
    const c = await session(fs());
    await c.walk(0, 1, 'rootfs/xa');
    const list = await c.call({ type: 'Txattrwalk', fid: 1, newfid: 2, name: '' }, 'Rxattrwalk');
    const names = 'user.foo\0security.selinux\0';
    expect(list.size).toBe(BigInt(names.length));
    const lr = await c.call({ type: 'Tread', fid: 2, offset: 0n, count: 1000 }, 'Rread');
    expect(new TextDecoder().decode(lr.data).split('\0').sort()).toEqual(['', 'security.selinux', 'user.foo']);
    const v = await c.call({ type: 'Txattrwalk', fid: 1, newfid: 3, name: 'security.selinux' }, 'Rxattrwalk');
    expect(v.size).toBe(26n);
    const part = await c.call({ type: 'Tread', fid: 3, offset: 9n, count: 8 }, 'Rread');
    expect(new TextDecoder().decode(part.data)).toBe('object_r');
    expect((await c.call({ type: 'Tread', fid: 3, offset: 26n, count: 8 }, 'Rread')).data).toHaveLength(0);
    expect((await c.call({ type: 'Tread', fid: 3, offset: 1n << 40n, count: 8 }, 'Rread')).data).toHaveLength(0);
    expect(await c.err({ type: 'Txattrwalk', fid: 1, newfid: 4, name: 'trusted.overlay.opaque' })).toBe(Errno.ENODATA);
    expect(await c.err({ type: 'Tclunk', fid: 4 })).toBe(Errno.EBADF);
    expect(await c.err({ type: 'Txattrwalk', fid: 1, newfid: 3, name: 'user.foo' })).toBe(Errno.EEXIST);
    // An xattr fid is not a file.
    expect(await c.err({ type: 'Tgetattr', fid: 3, requestMask: 0x7ffn })).toBe(Errno.EINVAL);
    await c.call({ type: 'Tclunk', fid: 3 }, 'Rclunk');
    await c.call({ type: 'Tclunk', fid: 2 }, 'Rclunk');
    // No xattrs at all: an empty list.
    expect((await c.call({ type: 'Txattrwalk', fid: 0, newfid: 5, name: '' }, 'Rxattrwalk')).size).toBe(0n);
  });
});

describe('9P session: read-only and error answers', () => {
  it('answers EROFS to every mutating message, EBADF to unknown fids', async () => {
    const c = await session(fs());
    await c.walk(0, 1, 'rootfs/etc/hostname');
    const mutating = [
      { type: 'Tlcreate', fid: 0, name: 'n', flags: 0o102, mode: 0o644, gid: 0 },
      { type: 'Tsymlink', fid: 0, name: 'n', symtgt: 't', gid: 0 },
      { type: 'Tmknod', dfid: 0, name: 'n', mode: 0o20644, major: 1, minor: 3, gid: 0 },
      { type: 'Trename', fid: 1, dfid: 0, name: 'n' },
      { type: 'Trenameat', olddirfid: 0, oldname: 'a', newdirfid: 0, newname: 'b' },
      { type: 'Tunlinkat', dirfid: 0, name: 'rootfs', flags: 0 },
      { type: 'Tsetattr', fid: 1, valid: 1, mode: 0o600, uid: 0, gid: 0, size: 0n, atimeSec: 0n, atimeNsec: 0n, mtimeSec: 0n, mtimeNsec: 0n },
      { type: 'Txattrcreate', fid: 1, name: 'user.x', attrSize: 1n, flags: 0 },
      { type: 'Tlink', dfid: 0, fid: 1, name: 'n' },
      { type: 'Tmkdir', dfid: 0, name: 'n', mode: 0o755, gid: 0 },
      { type: 'Twrite', fid: 1, offset: 0n, data: new Uint8Array(3) },
      { type: 'Tcreate', fid: 0, name: 'n', perm: 0o644, mode: 1, extension: '' },
      { type: 'Twstat', fid: 1, stat: new Uint8Array(10) },
    ] as const;
    for (const m of mutating) expect(await c.err(m), m.type).toBe(Errno.EROFS);
    for (const flags of [1, 2, 0o100, 0o1000, 0o101]) expect(await c.err({ type: 'Tlopen', fid: 1, flags })).toBe(Errno.EROFS);
    expect(await c.err({ type: 'Tlopen', fid: 1, flags: 0o200000 })).toBe(Errno.ENOTDIR);
    await c.call({ type: 'Tlopen', fid: 0, flags: 0o200000 }, 'Rlopen');
    // Tremove fails but clunks the fid.
    expect(await c.err({ type: 'Tremove', fid: 1 })).toBe(Errno.EROFS);
    expect(await c.err({ type: 'Tgetattr', fid: 1, requestMask: 0x7ffn })).toBe(Errno.EBADF);
    for (const m of [
      { type: 'Tclunk', fid: 42 },
      { type: 'Tremove', fid: 42 },
      { type: 'Tstatfs', fid: 42 },
      { type: 'Tlopen', fid: 42, flags: 0 },
      { type: 'Treaddir', fid: 42, offset: 0n, count: 100 },
      { type: 'Treadlink', fid: 42 },
      { type: 'Txattrwalk', fid: 42, newfid: 43, name: '' },
      { type: 'Tfsync', fid: 42, datasync: 0 },
    ] as const) {
      expect(await c.err(m), m.type).toBe(Errno.EBADF);
    }
  });

  it('grants locks, reports no conflicting lock, syncs', async () => {
    const c = await session(fs());
    await c.open(1, 'rootfs/etc/hostname');
    const lock = { fid: 1, lockType: 1, start: 0n, length: 0n, procId: 77, clientId: 'vm' };
    expect(await c.call({ type: 'Tlock', flags: 0, ...lock }, 'Rlock')).toMatchObject({ status: 0 });
    expect(await c.call({ type: 'Tgetlock', ...lock }, 'Rgetlock')).toMatchObject({ lockType: 2, procId: 77, clientId: 'vm' });
    await c.call({ type: 'Tfsync', fid: 1, datasync: 0 }, 'Rfsync');
  });

  it('answers unknown and reply-typed messages with EOPNOTSUPP, keeping the tag', async () => {
    const c = await session(fs());
    const frame = new Uint8Array([11, 0, 0, 0, 200, 0x34, 0x12, 1, 2, 3, 4]);
    c.conn.receive(frame);
    expect(c.replies.at(-1)).toEqual({ type: 'Rlerror', tag: 0x1234, ecode: Errno.EOPNOTSUPP });
    expect(await c.err({ type: 'Rclunk' } as never)).toBe(Errno.EOPNOTSUPP);
    expect(c.closed).toBeUndefined();
  });
});
