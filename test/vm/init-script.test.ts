import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initScript, MARK, MOUNT_COMMAND, UDHCPC_SCRIPT } from '../../src/vm/index.js';

const BUSYBOX = '/bin/busybox';
const script = initScript(['virtio_pci', 'virtio_net', 'netfs', '9pnet', '9pnet_fd', '9p', 'overlay']);

describe('the guest /init', () => {
  it("repeats the c2w VM's steps in order, with the exact mount command", () => {
    expect(MOUNT_COMMAND).toBe('mount -t 9p -o trans=tcp,version=9p2000.L,msize=5000000,port=80,cache=loose,ro 192.168.127.252 /run/9pbundle');
    const at = (s: string) => {
      const i = script.indexOf(s);
      expect(i, s).toBeGreaterThan(0);
      return i;
    };
    const order = [
      at('insmod /lib/modules/$m.ko'),
      at(MARK.ready),
      at('\nip link set dev eth0 up\n'),
      at('\nudhcpc -i eth0 '),
      at(MOUNT_COMMAND),
      at('/run/9pbundle/config/config.json'),
      at('"/run/9pbundle/rootfs /run/image-rootfs none bind 0 0"'),
      at('"overlay $r overlay lowerdir=/run/image-rootfs,upperdir=/run/overlay/upper,workdir=/run/overlay/work 0 0"'),
      at('mount -a -T /run/rootfs.fstab'),
      at('mount -a -T /run/container.fstab'),
      at(MARK.start),
      at('/bin/nsenter'),
      at(MARK.exitPrefix),
      script.lastIndexOf('poweroff -f'),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(script).toContain('for m in virtio_pci virtio_net netfs 9pnet 9pnet_fd 9p overlay; do');
    // The overlay's upper and work dirs are on a tmpfs.
    expect(script).toContain('mount -t tmpfs tmpfs /run/overlay');
  });

  it.skipIf(!existsSync(BUSYBOX))('is valid busybox sh, as is the udhcpc hook', () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-'));
    try {
      writeFileSync(join(dir, 'init'), script);
      writeFileSync(join(dir, 'udhcpc'), UDHCPC_SCRIPT);
      execFileSync(BUSYBOX, ['sh', '-n', join(dir, 'init')]);
      execFileSync(BUSYBOX, ['sh', '-n', join(dir, 'udhcpc')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(BUSYBOX))('resolves a bare command with the container PATH inside its root', () => {
    // The resolution block of /init, run against a fake root.
    const dir = mkdtempSync(join(tmpdir(), 'init-root-'));
    try {
      const block = script.slice(script.indexOf('# Resolve a bare command'), script.indexOf('cwd=${cwd:-/}'));
      execFileSync('sh', ['-c', `mkdir -p '${dir}/opt/bin' '${dir}/bin' && touch '${dir}/opt/bin/tool' && chmod +x '${dir}/opt/bin/tool' && ln -s /bin/busybox '${dir}/bin/ls'`]);
      const resolve = (env: string, args: string) =>
        execFileSync(BUSYBOX, ['sh', '-c', `root='${dir}'; env="${env}"; set -- ${args}\n${block}\nprintf '%s|' "$@"`]).toString();
      expect(resolve(`'PATH=/opt/bin:/bin' 'X=1'`, 'tool a b')).toBe('/opt/bin/tool|a|b|');
      // An absolute symlink in the image counts although it points outside the host's view.
      expect(resolve(`'PATH=/opt/bin:/bin'`, 'ls -l')).toBe('/bin/ls|-l|');
      expect(resolve(`'PATH=/opt/bin:/bin'`, 'missing x')).toBe('missing|x|');
      expect(resolve(`'PATH=/opt/bin'`, '/bin/ls')).toBe('/bin/ls|');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
