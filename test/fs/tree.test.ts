import { describe, expect, it } from 'vitest';
import { Tree } from '../../src/fs/index.js';
import { ImageError } from '../../oci/errors.js';
import { chunked, names, tarOf, text, treeOf } from './helpers.js';

describe('Tree layers', () => {
  it('creates implicit parents 0755 root-owned with mtime 0', async () => {
    const t = await treeOf([{ name: 'a/b/c', content: 'C', uid: 7 }]);
    const a = t.lookup('/a')!;
    expect(a).toMatchObject({ type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: { sec: 0, nsec: 0 }, size: 4096 });
    expect(t.lookup('a/b/c')).toMatchObject({ type: 'reg', uid: 7, size: 1, nlink: 1 });
    expect(await text(t, 'a/b/c')).toBe('C');
    expect(names(t)).toEqual(['/', '/a', '/a/b', '/a/b/c']);
  });

  it('normalises names and keeps symlink targets verbatim', async () => {
    const t = await treeOf([
      { name: './x/./y', content: 'y' },
      { name: '/abs', content: 'abs' },
      { name: 'l', type: 'symlink', linkname: '../../etc/../passwd', mode: 0o644 },
    ]);
    expect(names(t)).toEqual(['/', '/x', '/x/y', '/abs', '/l']);
    expect(t.lookup('l')).toMatchObject({ linkTarget: '../../etc/../passwd', size: 19, mode: 0o777 });
  });

  it.each(['../x', 'a/../../x', 'a\0b'])('rejects hostile name %j with BAD_PATH', async (name) => {
    // A ustar name field ends at NUL, so a NUL can only arrive through a PAX path record.
    const tar = await tarOf([{ name: 'ok', content: '' }, { name: 'placeholder', pax: { path: name }, content: 'x' }]);
    const err = await new Tree().applyLayer(chunked(tar), { name: 'L1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('BAD_PATH');
    expect((err as ImageError).message).toContain('L1');
  });

  it('keeps an existing directory and its children, updating metadata', async () => {
    const t = await treeOf([{ name: 'd/', mode: 0o700 }, { name: 'd/f', content: 'f' }], [{ name: 'd/', mode: 0o711, uid: 5 }]);
    expect(t.lookup('d')).toMatchObject({ mode: 0o711, uid: 5 });
    expect(await text(t, 'd/f')).toBe('f');
  });

  it('replaces file by dir and dir by file, removing the subtree', async () => {
    const t = await treeOf(
      [{ name: 'a', content: 'file' }, { name: 'b/c/d', content: 'deep' }],
      [{ name: 'a/', mode: 0o750 }, { name: 'a/in', content: '1' }, { name: 'b', content: 'now a file' }],
    );
    expect(t.lookup('a')).toMatchObject({ type: 'dir', mode: 0o750 });
    expect(await text(t, 'b')).toBe('now a file');
    expect(t.lookup('b/c')).toBeUndefined();
    expect(t.root.nlink).toBe(3); // '.', '..' and a/
  });

  it('last entry for a path in one layer wins', async () => {
    const t = await treeOf([
      { name: 'p', content: 'one' },
      { name: 'p', content: 'two' },
      { name: 'q', content: 'file' },
      { name: 'q', type: 'symlink', linkname: 'p' },
    ]);
    expect(await text(t, 'p')).toBe('two');
    expect(t.lookup('q')?.type).toBe('symlink');
  });

  it('applies whiteouts to lower layers only; the whiteout itself never appears', async () => {
    const t = await treeOf(
      [{ name: 'etc/a', content: 'a' }, { name: 'etc/b', content: 'b' }, { name: 'dir/x/y', content: 'y' }],
      [
        { name: 'etc/.wh.a', content: '' },
        { name: 'etc/.wh.nothere', content: '' },
        { name: 'nodir/.wh.x', content: '' },
        { name: '.wh.dir', content: '' },
        // same layer: the whiteout must not hide this layer's own entry, in either order
        { name: 'etc/.wh.c', content: '' },
        { name: 'etc/c', content: 'c' },
        { name: 'etc/e', content: 'e' },
        { name: 'etc/.wh.e', content: '' },
      ],
    );
    expect(names(t)).toEqual(['/', '/etc', '/etc/b', '/etc/c', '/etc/e']);
    expect(t.root.nlink).toBe(3);
  });

  it.each([
    ['marker first', true],
    ['marker last', false],
  ])('opaque dirs hide lower children but keep this layer’s (%s)', async (_, first) => {
    const opq = { name: 'd/.wh..wh..opq', content: '' };
    const upper = [
      { name: 'd/', mode: 0o755 },
      { name: 'd/new', content: 'new' },
      { name: 'd/sub/', mode: 0o755 },
      { name: 'd/sub/fresh', content: 'fresh' },
    ];
    const t = await treeOf(
      [{ name: 'd/old', content: 'old' }, { name: 'd/sub/stale', content: 's' }, { name: 'other', content: 'o' }],
      first ? [opq, ...upper] : [...upper, opq],
    );
    expect(names(t).sort()).toEqual(['/', '/d', '/d/new', '/d/sub', '/d/sub/fresh', '/other']);
    expect(t.lookup('d')!.nlink).toBe(3);
  });

  it('hard links share the inode within and across layers and count names', async () => {
    const t = await treeOf(
      [{ name: 'bin/busybox', content: 'BB', mode: 0o755 }, { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' }],
      [{ name: 'usr/bin/ls', type: 'link', linkname: '/bin/busybox' }],
    );
    const bb = t.lookup('bin/busybox')!;
    expect(t.lookup('bin/sh')).toBe(bb);
    expect(t.lookup('usr/bin/ls')).toBe(bb);
    expect(bb.nlink).toBe(3);
    expect(await text(t, 'usr/bin/ls')).toBe('BB');
  });

  it('replacing or removing one name of a hard-linked file decrements nlink', async () => {
    const t = await treeOf(
      [
        { name: 'a', content: 'A' },
        { name: 'b', type: 'link', linkname: 'a' },
        { name: 'c', type: 'link', linkname: 'a' },
        { name: 'dir/d', type: 'link', linkname: 'a' },
      ],
      [{ name: '.wh.b', content: '' }, { name: 'c', content: 'new c' }, { name: '.wh.dir', content: '' }],
    );
    const a = t.lookup('a')!;
    expect(a.nlink).toBe(1);
    expect(await text(t, 'c')).toBe('new c');
    expect(t.lookup('c')!.nlink).toBe(1);
  });

  it('a hard link to a missing target is BAD_TAR naming both', async () => {
    const tar = await tarOf([{ name: 'x', type: 'link', linkname: 'missing/target' }]);
    const err = (await new Tree().applyLayer(chunked(tar)).catch((e: unknown) => e)) as ImageError;
    expect(err.code).toBe('BAD_TAR');
    expect(err.message).toContain('"x"');
    expect(err.message).toContain('"missing/target"');
  });

  it('maintains directory nlink', async () => {
    const t = await treeOf([{ name: 'a/b/', mode: 0o755 }, { name: 'a/c/', mode: 0o755 }, { name: 'a/f', content: '' }], [{ name: 'a/.wh.b', content: '' }]);
    expect(t.lookup('a')!.nlink).toBe(3);
    expect(t.root.nlink).toBe(3);
  });

  it('follows a lower-layer symlinked parent directory, as containerd does', async () => {
    const t = await treeOf(
      [{ name: 'usr/lib/', mode: 0o755 }, { name: 'lib', type: 'symlink', linkname: '/usr/lib' }],
      [{ name: 'lib/libc.so', content: 'libc' }],
    );
    expect(t.lookup('lib')!.type).toBe('symlink');
    expect(await text(t, 'usr/lib/libc.so')).toBe('libc');
    expect(t.resolve('/lib/libc.so')).toBe(t.lookup('usr/lib/libc.so'));
  });

  it('updates root metadata from a "./" entry', async () => {
    const t = await treeOf([{ name: './', mode: 0o700, uid: 3 }]);
    expect(t.root).toMatchObject({ mode: 0o700, uid: 3 });
  });

  it('assigns unique stable inode numbers', async () => {
    const t = await treeOf([{ name: 'a', content: '' }, { name: 'b/c', content: '' }, { name: 'l', type: 'link', linkname: 'a' }]);
    const inos = new Set([...t.walk()].map(([, n]) => n.ino));
    expect(inos.size).toBe(4); // /, a (= l), b, b/c
    expect(t.root.ino).toBe(1);
    expect(t.lookup('l')!.ino).toBe(t.lookup('a')!.ino);
  });

  it('reads clamp to the file size, spanning store segments', async () => {
    const { MemoryStore } = await import('../../src/fs/index.js');
    const t = new Tree({ store: new MemoryStore({ segmentSize: 1000 }) });
    const body = Uint8Array.from({ length: 2500 }, (_, i) => i % 251);
    await t.applyLayer(chunked(await tarOf([{ name: 'pad', content: 'xyz' }, { name: 'f', content: body }]), 333));
    const f = t.lookup('f')!;
    expect([...(await t.read(f, 0, 10_000))]).toEqual([...body]);
    expect([...(await t.read(f, 990, 30))]).toEqual([...body.subarray(990, 1020)]);
    expect((await t.read(f, 2500, 10)).length).toBe(0);
    expect((await t.read(f, 9999, 10)).length).toBe(0);
    expect(await text(t, 'pad')).toBe('xyz');
  });

  it('keeps 5000 directory entries in tar order', async () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({ name: `big/f${(i * 7919) % 5000}`, content: '' }));
    const t = await treeOf(entries);
    const kids = [...t.lookup('big')!.children!.keys()];
    expect(kids).toEqual(entries.map((e) => e.name.slice(4)));
    const walked = names(t).slice(2);
    expect(walked).toEqual(entries.map((e) => '/' + e.name));
  });
});
