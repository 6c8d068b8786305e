import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInitramfs, ensureVmAssets, initramfsEntries, resolveModules, VmAssetError, type GuestKernel } from '../../src/vm/index.js';

const root = mkdtempSync(join(tmpdir(), 'vm-assets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A kernel package's module tree: each .ko holds just its .modinfo `depends=` string. */
function fakeKernel(): GuestKernel {
  const modulesDir = join(root, 'lib/modules/6.1.0-99-686');
  const ko = (path: string, depends: string) => {
    mkdirSync(join(modulesDir, 'kernel', path, '..'), { recursive: true });
    writeFileSync(join(modulesDir, 'kernel', path), `\x7fELF junk\0license=GPL\0depends=${depends}\0vermagic=6.1\0`);
  };
  ko('drivers/virtio/virtio_pci.ko', 'virtio_pci_legacy_dev,virtio_pci_modern_dev,virtio');
  ko('drivers/virtio/virtio_pci_legacy_dev.ko', '');
  ko('drivers/virtio/virtio_pci_modern_dev.ko', '');
  ko('drivers/net/virtio_net.ko', 'net_failover,virtio');
  ko('drivers/net/net_failover.ko', 'failover');
  ko('net/core/failover.ko', '');
  ko('drivers/net/ethernet/8390/ne2k-pci.ko', '8390');
  ko('drivers/net/ethernet/8390/8390.ko', '');
  ko('net/9p/9pnet.ko', '');
  ko('net/9p/9pnet_fd.ko', '9pnet');
  ko('fs/netfs/netfs.ko', 'fscache');
  ko('fs/fscache/fscache.ko', '');
  ko('fs/9p/9p.ko', '9pnet,netfs');
  ko('fs/overlayfs/overlay.ko', '');
  writeFileSync(join(modulesDir, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\n');
  writeFileSync(join(root, 'vmlinuz'), 'kernel');
  return { vmlinuz: join(root, 'vmlinuz'), modulesDir, version: '6.1.0-99-686' };
}

describe('guest modules and initramfs', () => {
  const kernel = fakeKernel();
  const busybox = join(root, 'busybox');
  writeFileSync(busybox, 'not really busybox');

  it('orders modules dependencies first, skipping built-ins', () => {
    const names = resolveModules(kernel.modulesDir, ['virtio_pci', 'virtio_net', '9pnet_fd', '9p', 'overlay']).map((m) => m.name);
    expect(names).toEqual(['virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net', '9pnet', '9pnet_fd', 'fscache', 'netfs', '9p', 'overlay']);
    expect(resolveModules(kernel.modulesDir, ['ne2k-pci']).map((m) => m.name)).toEqual(['8390', 'ne2k_pci']);
    expect(() => resolveModules(kernel.modulesDir, ['nonexistent'])).toThrow(/kernel module nonexistent not found/);
  });

  it('holds busybox, the modules in load order, /init and its helpers; parents come first', () => {
    const entries = initramfsEntries({ kernel, busybox, nic: 'ne2k' });
    const paths = entries.map((e) => e.path);
    for (const p of ['init', 'bin/busybox', 'bin/sh', 'bin/nsenter', 'sbin/udhcpc', 'lib/modules/ne2k_pci.ko', 'lib/imagemounter/json.awk', 'etc/udhcpc/default.script', 'usr/share/udhcpc/default.script']) {
      expect(paths).toContain(p);
    }
    for (const [i, p] of paths.entries()) {
      const parent = p.split('/').slice(0, -1).join('/');
      if (parent) expect(paths.indexOf(parent), p).toBeLessThan(i);
    }
    const init = entries.find((e) => e.path === 'init');
    expect(init?.type === 'file' && String(init.data)).toContain('for m in 8390 ne2k_pci 9pnet 9pnet_fd fscache netfs 9p overlay; do');
  });

  it('is cached by content', () => {
    const outDir = join(root, 'out');
    const a = buildInitramfs({ kernel, busybox, nic: 'virtio', outDir });
    expect(buildInitramfs({ kernel, busybox, nic: 'virtio', outDir })).toBe(a);
    expect(buildInitramfs({ kernel, busybox, nic: 'ne2k', outDir })).not.toBe(a);
    expect(gunzipSync(readFileSync(a)).subarray(0, 6).toString()).toBe('070701');
  });
});

describe('ensureVmAssets without apt', () => {
  it('names the Debian packages and the override options', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(root, 'no-such-bin');
    try {
      const err = await ensureVmAssets({ vm: 'v86', cacheDir: join(root, 'cache') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VmAssetError);
      expect((err as VmAssetError).code).toBe('APT_UNAVAILABLE');
      expect((err as Error).message).toMatch(/linux-image-686:i386, seabios, busybox-static:i386/);
      expect((err as Error).message).toMatch(/--kernel, --initrd and --bios/);
    } finally {
      process.env.PATH = path;
    }
  });
});
