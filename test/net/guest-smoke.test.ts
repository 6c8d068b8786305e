// A real Linux against the virtual network: Debian's kernel under QEMU (TCG) with a
// virtio-net NIC on `-netdev socket,connect=` to listenFrames, running the c2w VM's
// steps (udhcpc, mount -t 9p trans=tcp 192.168.127.252) against the project's P9Server
// over a small in-memory tree. Skipped when QEMU or the guest kernel is unavailable.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { P9Server } from '../../p9/index.js';
import { buildRouteTree, Tree, treeFileSystem } from '../../src/fs/index.js';
import { attachLink, NetStack } from '../../src/net/index.js';
import { listenFrames } from '../../src/transport/node-socket.js';
import { ensureGuestKernel } from '../guest/kernel.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { qemuArgs } from '../guest/qemu.js';
import { MARK_BEGIN, MARK_END } from '../guest/init-script.js';
import { rng } from './helpers.js';

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

describe.skipIf(!haveQemu || process.env.NET_GUEST === '0')('real Linux guest over the virtual network', () => {
  it('gets a lease, pings, resolves fast, mounts 9P over our TCP and reads files intact', async () => {
    const big = new Uint8Array(3 << 20);
    const r = rng(5);
    for (let i = 0; i < big.length; i++) big[i] = (r() * 256) | 0;
    const rootfs = new Tree();
    rootfs.writeFile('hello.txt', new TextEncoder().encode('hello from the virtual network\n'), { mode: 0o644 });
    rootfs.writeFile('big.bin', big, { mode: 0o644 });
    const route = buildRouteTree(rootfs, { 'config.json': new TextEncoder().encode('{"ociVersion":"1.0.2"}'), 'imageconfig.json': new TextEncoder().encode('{}') });
    const server = new P9Server(treeFileSystem(route));

    const logs: string[] = [];
    const listener = await listenFrames({ kind: 'tcp', host: '127.0.0.1', port: 0 }, (link) => {
      const stack = new NetStack({
        logger: { info: (m) => logs.push(m), warn: (m) => logs.push(`WARN ${m}`) },
        onTcpConnection: (c) => {
          const p9 = server.connect(
            (bytes) => void c.write(bytes),
            () => c.close(),
          );
          c.onData = (b) => p9.receive(b);
          c.onClose = () => {
            p9.end();
            c.close();
          };
        },
      });
      attachLink(stack, link);
    });
    try {
      const kernel = await ensureGuestKernel();
      const M = '/run/9pbundle';
      const checks = [
        `cat ${M}/rootfs/hello.txt`,
        `sha256sum ${M}/rootfs/big.bin`,
        `cat ${M}/config/config.json; echo`,
        'ping -c 2 -W 2 192.168.127.1 >/dev/null && echo PING-GW-OK',
        'ping -c 1 -W 2 192.168.127.252 >/dev/null && echo PING-9P-OK',
        't0=$(cut -d" " -f1 /proc/uptime); nslookup example.com 192.168.127.1 >/dev/null 2>&1; echo "DNS-RC=$? start=$t0 end=$(cut -d" " -f1 /proc/uptime)"',
        'ip -4 addr show eth0 | grep inet',
        'ip route | grep default',
      ].join('\n');
      const initrd = await buildInitramfs({ kernel, checks });
      const args = qemuArgs({ kernel: kernel.vmlinuz, initrd, serve9p: { host: '127.0.0.1', port: 1 }, timeoutMs: 0 });
      const i = args.indexOf('-netdev');
      args[i + 1] = `socket,id=n0,connect=127.0.0.1:${listener.port}`;
      const output = await new Promise<string>((resolve) => {
        const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
        child.on('close', () => (clearTimeout(timer), resolve(out.replaceAll('\r', ''))));
      });
      const checked = output.slice(output.indexOf(MARK_BEGIN), output.indexOf(MARK_END));
      console.log(`guest output:\n${checked || output.slice(-4000)}\nstack log:\n${logs.join('\n')}`);
      expect(checked).toContain('hello from the virtual network');
      expect(checked).toContain(createHash('sha256').update(big).digest('hex'));
      expect(checked).toContain('ociVersion');
      expect(checked).toContain('PING-GW-OK');
      expect(checked).toContain('PING-9P-OK');
      expect(checked).toMatch(/inet 192\.168\.127\.3\/24/);
      expect(checked).toMatch(/default via 192\.168\.127\.1/);
      const dns = /DNS-RC=\d+ start=([\d.]+) end=([\d.]+)/.exec(checked);
      expect(Number(dns![2]) - Number(dns![1])).toBeLessThan(2); // answered, not timed out
      expect(logs.some((l) => l.startsWith('DHCP: leased 192.168.127.3'))).toBe(true);
      expect(logs.some((l) => l.startsWith('TCP: 192.168.127.3:'))).toBe(true);
      expect(logs.filter((l) => l.startsWith('WARN'))).toEqual([]);
    } finally {
      await listener.close();
    }
  }, 200_000);
});
