import { describe, expect, it } from 'vitest';
import { buildRouteTree } from '../../src/fs/index.js';
import { names, text, treeOf } from './helpers.js';

describe('buildRouteTree', () => {
  it('serves rootfs/ (same inodes) and config/*.json with unique inos', async () => {
    const rootfs = await treeOf([{ name: 'etc/hostname', content: 'box\n' }, { name: 'bin/', mode: 0o755 }]);
    const enc = new TextEncoder();
    const route = buildRouteTree(rootfs, {
      'config.json': enc.encode('{"ociVersion":"1.1.0"}'),
      'imageconfig.json': enc.encode('{"os":"linux"}'),
    });
    expect(names(route)).toEqual([
      '/',
      '/rootfs',
      '/rootfs/etc',
      '/rootfs/etc/hostname',
      '/rootfs/bin',
      '/config',
      '/config/config.json',
      '/config/imageconfig.json',
    ]);
    expect(route.lookup('rootfs')).toBe(rootfs.root);
    expect(route.lookup('/rootfs/etc/hostname')).toBe(rootfs.lookup('etc/hostname'));
    expect(await text(route, '/rootfs/etc/hostname')).toBe('box\n');
    expect(await text(route, '/config/config.json')).toBe('{"ociVersion":"1.1.0"}');
    expect(await text(route, '/config/imageconfig.json')).toBe('{"os":"linux"}');
    expect(route.lookup('config/config.json')).toMatchObject({ type: 'reg', mode: 0o444, uid: 0, gid: 0, nlink: 1 });
    expect(route.root.nlink).toBe(4);
    const inos = [...route.walk()].map(([, n]) => n.ino);
    expect(new Set(inos).size).toBe(inos.length);
  });
});
