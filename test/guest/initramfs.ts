// Builds the guest's initramfs: Debian's static busybox with its applet links, the kernel
// modules for virtio-net, 9P over TCP and overlayfs (dependencies resolved and ordered),
// /init, the udhcpc hook and the test's /checks.sh. Written with GNU cpio (newc) and
// gzip, cached under .cache/guest/initramfs keyed by a hash of every input.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

/** The `depends=` field of a module's .modinfo section (NUL-separated key=value strings). */
function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const value = ko.subarray(start, ko.indexOf(0, start)).toString();
  return value ? value.split(',') : [];
}

/** Module name (dashes and underscores are the same to the kernel) → .ko path, for the whole tree. */
function indexModules(modulesDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.name.endsWith('.ko')) out.set(e.name.slice(0, -3).replaceAll('-', '_'), p);
      // Debian 12's 6.1 kernels ship plain .ko; a compressed one would need unpacking here.
      else if (/\.ko\.(xz|zst|gz)$/.test(e.name)) throw new Error(`compressed module ${p} is not supported`);
    }
  };
  visit(join(modulesDir, 'kernel'));
  return out;
}

/** The wanted modules plus their dependencies, dependencies first (insmod does not resolve them). */
export function resolveModules(modulesDir: string, wanted: string[]): { name: string; path: string }[] {
  const index = indexModules(modulesDir);
  const builtin = new Set(
    readFileSync(join(modulesDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^.*\//, '').replace(/\.ko$/, '').replaceAll('-', '_')),
  );
  const order: { name: string; path: string }[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    name = name.replaceAll('-', '_');
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const path = index.get(name);
    if (!path) throw new Error(`kernel module ${name} not found under ${modulesDir}`);
    for (const dep of moduleDepends(readFileSync(path))) visit(dep);
    order.push({ name, path });
  };
  for (const w of wanted) visit(w);
  return order;
}

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

  const h = createHash('sha256').update('v1').update(readFileSync(BUSYBOX)).update(opts.kernel.version);
  for (const m of modules) h.update(m.name).update(readFileSync(m.path));
  for (const [p, c] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) h.update(p).update('\0').update(c).update('\0');
  const out = join(cacheDir, `${h.digest('hex').slice(0, 32)}.cpio.gz`);
  if (existsSync(out)) return out;

  mkdirSync(cacheDir, { recursive: true });
  const stage = `${out}.stage-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'lib/modules', 'proc', 'sys', 'dev', 'etc', 'tmp', 'run', 'root']) {
      mkdirSync(join(stage, d), { recursive: true });
    }
    copyFileSync(BUSYBOX, join(stage, 'bin/busybox'));
    chmodSync(join(stage, 'bin/busybox'), 0o755);
    // `busybox --list-full` names each applet with its usual directory (sbin/ip, usr/bin/find, …).
    const applets = (await exec(BUSYBOX, ['--list-full'])).stdout.split('\n').filter(Boolean);
    for (const a of applets) {
      if (a === 'bin/busybox' || existsSync(join(stage, a))) continue;
      const depth = a.split('/').length - 1;
      symlinkSync(`${'../'.repeat(depth)}bin/busybox`, join(stage, a));
    }
    for (const m of modules) copyFileSync(m.path, join(stage, 'lib/modules', `${m.name}.ko`));
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(dirname(join(stage, p)), { recursive: true });
      writeFileSync(join(stage, p), c);
      if (p === 'init' || p.endsWith('.sh') || p.endsWith('.script')) chmodSync(join(stage, p), 0o755);
    }
    // The kernel's built-in initramfs already has /dev/console, so no device node (and no root) is needed here.
    const tmpOut = `${out}.tmp-${process.pid}`;
    await exec('sh', ['-c', `cd '${stage}' && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -n -6 > '${tmpOut}'`]);
    renameSync(tmpOut, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  prune(cacheDir, KEEP);
  return out;
}
