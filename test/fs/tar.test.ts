import { describe, expect, it } from 'vitest';
import { readTar, Tree, type TarEntry } from '../../src/fs/index.js';
import { ImageError } from '../../oci/errors.js';
import { asStream, blocks, chunked, concat, END, gnuLong, header, paxRaw, tarOf, text } from './helpers.js';

async function entriesOf(bytes: Uint8Array, size = 4096): Promise<[TarEntry, string][]> {
  const out: [TarEntry, string][] = [];
  await readTar(chunked(bytes, size), (e) => {
    const rec: [TarEntry, string] = [e, ''];
    out.push(rec);
    return (chunk) => (rec[1] += new TextDecoder().decode(chunk));
  });
  return out;
}

async function badTar(bytes: Uint8Array): Promise<ImageError> {
  const err = await new Tree().applyLayer(chunked(bytes), { name: 'sha256:bad' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

describe('readTar', () => {
  it('reads PAX long names and long link targets', async () => {
    const long = 'd/' + 'x'.repeat(150) + '/' + 'y'.repeat(120);
    const target = '/' + 't'.repeat(200);
    const e = await entriesOf(
      await tarOf([
        { name: long, content: 'hi' },
        { name: 's', type: 'symlink', linkname: target },
      ]),
    );
    expect(e[0]![0].name).toBe(long);
    expect(e[0]![1]).toBe('hi');
    expect(e[1]![0]).toMatchObject({ type: 'symlink', linkname: target });
  });

  it('reads GNU long names and long link targets', async () => {
    const long = 'g/' + 'n'.repeat(180);
    const target = 'q'.repeat(150);
    const data = new TextEncoder().encode('gnu!');
    const tar = concat([
      gnuLong('L', long),
      header({ name: long.slice(0, 99), typeflag: '0', size: data.length, magic: 'gnu' }),
      blocks(data),
      gnuLong('L', 'g/link'),
      gnuLong('K', target),
      header({ name: 'g/lin', typeflag: '2', linkname: target.slice(0, 99), magic: 'gnu' }),
      END,
    ]);
    const e = await entriesOf(tar, 100); // odd chunking across block boundaries
    expect(e.map(([x]) => [x.name, x.type, x.linkname])).toEqual([
      [long, 'reg', undefined],
      ['g/link', 'symlink', target],
    ]);
    expect(e[0]![1]).toBe('gnu!');
  });

  it('keeps mode bits, ids, devices, fifos, xattrs and nanosecond times', async () => {
    const e = await entriesOf(
      await tarOf([
        { name: 'su', mode: 0o4755, uid: 1000, gid: 50, content: 'x' },
        { name: 'tmp/', mode: 0o1777 },
        { name: 'sg', mode: 0o2711, content: '' },
        { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'pipe', type: 'fifo' },
        {
          name: 'ns',
          content: 'n',
          pax: {
            mtime: '1700000000.123456789',
            atime: '1700000001.5',
            ctime: '-1.25',
            'SCHILY.xattr.user.comment': 'héllo',
            'SCHILY.xattr.security.capability': '\x01\x00\x00\x02\x00\x20\x00\x00',
            'LIBARCHIVE.xattr.user.b64': 'AP8Q',
            uid: '3000000',
          },
        },
      ]),
    );
    const by = Object.fromEntries(e.map(([x]) => [x.name, x]));
    expect(by.su).toMatchObject({ mode: 0o4755, uid: 1000, gid: 50, type: 'reg', size: 1 });
    expect(by['tmp/']).toMatchObject({ mode: 0o1777, type: 'dir' });
    expect(by.sg!.mode).toBe(0o2711);
    expect(by.null).toMatchObject({ type: 'char', devmajor: 1, devminor: 3 });
    expect(by.sda).toMatchObject({ type: 'block', devmajor: 8, devminor: 0 });
    expect(by.pipe!.type).toBe('fifo');
    expect(by.su!.mtime).toEqual({ sec: 1_600_000_000, nsec: 0 });
    const ns = by.ns!;
    expect(ns.mtime).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    expect(ns.atime).toEqual({ sec: 1_700_000_001, nsec: 500_000_000 });
    expect(ns.ctime).toEqual({ sec: -2, nsec: 750_000_000 });
    expect(ns.uid).toBe(3_000_000);
    expect(new TextDecoder().decode(ns.xattrs.get('user.comment'))).toBe('héllo');
    expect([...ns.xattrs.get('security.capability')!]).toEqual([1, 0, 0, 2, 0, 0x20, 0, 0]);
    expect([...ns.xattrs.get('user.b64')!]).toEqual([0, 0xff, 0x10]);
  });

  it('keeps xattr values byte for byte, even when they are not UTF-8', async () => {
    const cap = new Uint8Array([1, 0, 0, 2, 0xff, 0xfe, 0x80, 0, 0x0a, 0x3d]);
    const tar = concat([
      paxRaw('SCHILY.xattr.security.capability', cap),
      header({ name: 'f', typeflag: '0' }),
      END,
    ]);
    let got: TarEntry | undefined;
    await readTar(chunked(tar, 7), (e) => void (got = e));
    expect([...got!.xattrs.get('security.capability')!]).toEqual([...cap]);
  });

  it('reads from a ReadableStream and from 1-byte chunks', async () => {
    const tar = await tarOf([{ name: 'a/b', content: 'x'.repeat(3000) }, { name: 'c', content: 'yz' }]);
    const t = new Tree();
    const stats = await t.applyLayer(asStream(tar, 777));
    expect(stats).toEqual({ entries: 2, bytes: tar.length });
    expect(await text(t, 'c')).toBe('yz');
    const t2 = new Tree();
    await t2.applyLayer(chunked(tar, 1));
    expect((await text(t2, 'a/b')).length).toBe(3000);
  });

  it('accepts empty layers (no bytes, or only the end-of-archive blocks)', async () => {
    async function* none() {}
    expect(await new Tree().applyLayer(none())).toEqual({ entries: 0, bytes: 0 });
    expect(await new Tree().applyLayer(chunked(END))).toEqual({ entries: 0, bytes: 1024 });
  });

  it('rejects a truncated tar with BAD_TAR', async () => {
    const tar = await tarOf([{ name: 'big', content: 'z'.repeat(5000) }]);
    const err = await badTar(tar.subarray(0, 512 + 2000));
    expect(err.code).toBe('BAD_TAR');
    expect(err.message).toContain('sha256:bad');
  });

  it('rejects a bad header checksum with BAD_TAR', async () => {
    const tar = await tarOf([{ name: 'a', content: 'a' }, { name: 'b', content: 'b' }]);
    tar[1024 + 3] ^= 0x40; // corrupt the second header's name
    expect((await badTar(tar)).code).toBe('BAD_TAR');
  });

  it('rejects garbage with BAD_TAR', async () => {
    expect((await badTar(new Uint8Array(2048).fill(7))).code).toBe('BAD_TAR');
  });

  it('passes errors of the source through unchanged', async () => {
    const tar = await tarOf([{ name: 'big', content: 'z'.repeat(50_000) }]);
    const boom = new Error('digest mismatch');
    async function* failing() {
      yield tar.subarray(0, 10_000);
      throw boom;
    }
    await expect(new Tree().applyLayer(failing())).rejects.toBe(boom);
  });

  it('stops the source when an entry is rejected', async () => {
    const tar = await tarOf([{ name: '../evil', content: 'x' }, { name: 'more', content: 'y'.repeat(100_000) }]);
    let cancelled = false;
    let i = 0;
    const src = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i >= tar.length) return c.close();
        c.enqueue(tar.slice(i, (i += 512)));
      },
      cancel() {
        cancelled = true;
      },
    });
    const err = await new Tree().applyLayer(src).catch((e: unknown) => e);
    expect((err as ImageError).code).toBe('BAD_PATH');
    await new Promise((r) => setTimeout(r, 10));
    expect(cancelled).toBe(true);
  });
});
