// Builds the guest's initramfs: Debian's static busybox with its applet links, the kernel
// modules for virtio-net, 9P over TCP and overlayfs (dependencies resolved and ordered),
// /init, the udhcpc hook and the test's /checks.sh. Written with src/vm's cpio (newc)
// writer and gzip, cached under .cache/guest/initramfs keyed by a hash of every input.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { resolveModules, writeCpio, type CpioEntry } from '../../src/vm/index.js';
import type { GuestKernel } from './kernel.js';
import { initScript, UDHCPC_SCRIPT } from './init-script.js';

const exec = promisify(execFile);
const BUSYBOX = '/bin/busybox';
const DEFAULT_CACHE = fileURLToPath(new URL('../../.cache/guest/initramfs', import.meta.url));

/**
 * What the guest must load. Debian builds all of these as modules (none is in
 * modules.builtin). virtio_pci is not a symbol dependency of virtio_net but is the
 * transport the PCI NIC needs; 9pnet_fd provides trans=tcp in 6.1.
 */
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', '9pnet_fd', '9p', 'overlay'];

export interface InitramfsOptions {
  kernel: GuestKernel;
  /** Shell script run by /init after the mount (busybox sh); its output is the test's result. */
  checks: string;
  /** Extra files placed in the initramfs (path → content), e.g. data the checks compare against. */
  files?: Record<string, string | Uint8Array>;
  cacheDir?: string;
  /** Only for diod, which needs its export path as aname (see initScript). */
  aname?: string;
}

/** The wanted modules plus their dependencies, dependencies first (src/vm/modules.ts). */
export { resolveModules };

/** Each distinct checks script makes an entry; keep the newest few so the cache stays small. */
const KEEP = 24;
function prune(dir: string, keep: number): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpio.gz'))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(keep)) rmSync(join(dir, f), { force: true });
}

export async function buildInitramfs(opts: InitramfsOptions): Promise<string> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE;
  const modules = resolveModules(opts.kernel.modulesDir, GUEST_MODULES);
  const files: Record<string, string | Uint8Array> = {
    'init': initScript(modules.map((m) => `${m.name}.ko`), opts.aname),
    // Upstream busybox (the c2w VM's) looks here; Debian's busybox was built to look in
    // /etc/udhcpc/. Both get the hook so `udhcpc -i eth0` stays exactly the VM's command.
    'usr/share/udhcpc/default.script': UDHCPC_SCRIPT,
    'etc/udhcpc/default.script': UDHCPC_SCRIPT,
    'checks.sh': opts.checks,
    ...opts.files,
  };

  const h = createHash('sha256').update('v2').update(readFileSync(BUSYBOX)).update(opts.kernel.version);
  for (const m of modules) h.update(m.name).update(readFileSync(m.path));
  for (const [p, c] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) h.update(p).update('\0').update(c).update('\0');
  const out = join(cacheDir, `${h.digest('hex').slice(0, 32)}.cpio.gz`);
  if (existsSync(out)) return out;

  mkdirSync(cacheDir, { recursive: true });
  const entries: CpioEntry[] = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'lib', 'lib/modules', 'proc', 'sys', 'dev', 'etc', 'tmp', 'run', 'root'].map((d) => ({ path: d, type: 'dir' }));
  entries.push({ path: 'bin/busybox', type: 'file', data: readFileSync(BUSYBOX), mode: 0o755 });
  // `busybox --list-full` names each applet with its usual directory (sbin/ip, usr/bin/find, …).
  const applets = (await exec(BUSYBOX, ['--list-full'])).stdout.split('\n').filter(Boolean);
  for (const a of applets) {
    if (a === 'bin/busybox') continue;
    const depth = a.split('/').length - 1;
    entries.push({ path: a, type: 'symlink', target: `${'../'.repeat(depth)}bin/busybox` });
  }
  for (const m of modules) entries.push({ path: `lib/modules/${m.name}.ko`, type: 'file', data: readFileSync(m.path) });
  const dirs = new Set(entries.filter((e) => e.type === 'dir').map((e) => e.path));
  for (const [p, c] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Parents first: the kernel creates each entry as it reads it.
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (dirs.has(d)) continue;
      entries.push({ path: d, type: 'dir' });
      dirs.add(d);
    }
    const exe = p === 'init' || p.endsWith('.sh') || p.endsWith('.script');
    entries.push({ path: p, type: 'file', data: c, mode: exe ? 0o755 : 0o644 });
  }
  // The kernel's built-in initramfs already has /dev/console, so no device node (and no root) is needed here.
  const tmpOut = `${out}.tmp-${process.pid}`;
  writeFileSync(tmpOut, gzipSync(writeCpio(entries), { level: 6 }));
  renameSync(tmpOut, out);
  prune(cacheDir, KEEP);
  return out;
}
