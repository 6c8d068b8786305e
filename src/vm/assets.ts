// The guest's boot files, made from Debian's packages at set-up (`npm run vm-assets`) or
// on first use, cached under .cache/vm of the checkout:
//   v86  (i386): linux-image-*-686, seabios (bios.bin, vgabios-stdvga.bin), busybox-static:i386
//   qemu (amd64): linux-image-amd64's kernel, busybox-static (QEMU brings its own BIOS)
// and for each an initramfs built here: busybox, the kernel modules, our /init.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.js';
import { ensureDebianKernel, ensureDebianPackage, VmAssetError, type GuestKernel } from './debian.js';
import { initScript, JSON_AWK_PATH, UDHCPC_SCRIPT } from './init-script.js';
import { JSON_AWK } from './json-awk.js';
import { resolveModules } from './modules.js';
import { V86_MACHINE, type Nic } from './v86.js';

const require = createRequire(import.meta.url);

export type { Nic };

export type VmKind = 'v86' | 'qemu';


export interface VmAssets {
  vm: VmKind;
  kernel: string;
  initrd: string;
  /** SeaBIOS and its VGA BIOS (v86 only; QEMU has its own). */
  bios?: string;
  vgaBios?: string;
  /** The NIC the initramfs has drivers for. */
  nic: Nic;
  /** Kernel release the modules belong to (`6.1.0-57-686`), when built here. */
  kernelVersion?: string;
}

export interface VmAssetOptions {
  vm: VmKind;
  /** Default: `.cache/vm` in the checkout (or installed package) this file belongs to. */
  cacheDir?: string;
  nic?: Nic;
  log?: (message: string) => void;
  /** Ask apt for newer packages even when assets exist (`npm run vm-assets`). */
  refresh?: boolean;
}

/** Every Debian package the assets come from, for error messages and set-up scripts. */
export const VM_PACKAGES: Record<VmKind, string[]> = {
  v86: ['linux-image-686:i386', 'seabios', 'busybox-static:i386'],
  qemu: ['linux-image-amd64', 'busybox-static', 'qemu-system-x86'],
};

const NIC_MODULES: Record<Nic, string[]> = {
  // virtio_pci is not a symbol dependency of virtio_net but is the transport the PCI NIC needs.
  virtio: ['virtio_pci', 'virtio_net'],
  ne2k: ['ne2k_pci'],
};
// 9pnet_fd provides trans=tcp in 6.1; Debian builds all of these as modules.
const FS_MODULES = ['9pnet_fd', '9p', 'overlay'];

/** Applet links in the initramfs. busybox sh runs applets without them; these are for exec by path and #! lines. */
const APPLETS = {
  bin: 'ash sh cat cp date dmesg echo env hostname kill ln ls mkdir mknod mount nsenter printf ps rm setsid sleep stty sync tail umount uname cttyhack awk sed grep cut id'.split(' '),
  sbin: 'insmod ip poweroff reboot udhcpc'.split(' '),
};

/** `.cache/vm` beside the nearest package.json above this file (the checkout, or the installed package). */
export function defaultVmCacheDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, '.cache', 'vm');
}

function aptHint(vm: VmKind): string {
  const arch = vm === 'v86' ? ' (after "dpkg --add-architecture i386 && apt-get update")' : '';
  return `the ${vm} guest is built from Debian's packages ${VM_PACKAGES[vm].join(', ')}${arch}; on a system without apt, pass --kernel, --initrd${vm === 'v86' ? ' and --bios' : ''}`;
}

/** The kernel, initramfs and BIOS files for `vm`, made if missing. */
export async function ensureVmAssets(opts: VmAssetOptions): Promise<VmAssets> {
  const cacheDir = opts.cacheDir ?? defaultVmCacheDir();
  const nic = opts.vm === 'v86' ? (opts.nic ?? 'virtio') : 'virtio';
  const sources = await guestSources(opts.vm, cacheDir, opts.refresh === true, opts.log ?? (() => {}));
  const out = join(cacheDir, opts.vm);
  const initrd = buildInitramfs({ kernel: sources.kernel, busybox: sources.busybox, nic, outDir: out });
  if (opts.vm === 'qemu') return { vm: 'qemu', kernel: sources.kernel.vmlinuz, initrd, nic, kernelVersion: sources.kernel.version };
  // Stable names, for a page or a script that serves the directory.
  const files = {
    kernel: copyIfChanged(sources.kernel.vmlinuz, join(out, 'bzImage')),
    initrd: copyIfChanged(initrd, join(out, 'initrd.cpio.gz')),
    bios: copyIfChanged(join(sources.seabios!, 'usr/share/seabios/bios.bin'), join(out, 'bios.bin')),
    vgaBios: copyIfChanged(join(sources.seabios!, 'usr/share/seabios/vgabios-stdvga.bin'), join(out, 'vgabios.bin')),
  };
  const assets: VmAssets = { vm: 'v86', ...files, nic, kernelVersion: sources.kernel.version };
  // A page keys its boot snapshot with the digest.
  const digest = v86SnapshotDigest([files.kernel, files.initrd, files.bios, files.vgaBios].map((f) => readFileSync(f)), nic);
  const manifest = JSON.stringify({ ...assets, kernel: 'bzImage', initrd: 'initrd.cpio.gz', bios: 'bios.bin', vgaBios: 'vgabios.bin', digest }, null, 1) + '\n';
  const manifestPath = join(out, 'assets.json');
  if (!existsSync(manifestPath) || readFileSync(manifestPath, 'utf8') !== manifest) writeFileSync(manifestPath, manifest);
  return assets;
}

/**
 * What a v86 boot snapshot depends on besides its RAM size: the boot files (kernel,
 * initrd, BIOS, VGA BIOS), the NIC, the command line and devices, and v86's version.
 */
export function v86SnapshotDigest(files: Uint8Array[], nic: Nic): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f);
  const version = (JSON.parse(readFileSync(require.resolve('v86/package.json'), 'utf8')) as { version: string }).version;
  return h.update(`${nic}|${V86_MACHINE}|${version}`).digest('hex').slice(0, 16);
}

/** What the boot files are made from: extracted Debian packages. */
interface GuestSources {
  kernel: GuestKernel;
  busybox: string;
  /** The extracted seabios package (v86). */
  seabios?: string;
}

/**
 * Asks apt only when nothing was fetched yet or on `refresh` (npm run vm-assets): apt's
 * look-ups take seconds, too long for every `run`.
 */
async function guestSources(vm: VmKind, cacheDir: string, refresh: boolean, log: (m: string) => void): Promise<GuestSources> {
  const file = join(cacheDir, vm, 'sources.json');
  if (!refresh && existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')) as GuestSources;
    if ([s.kernel.vmlinuz, s.kernel.modulesDir, s.busybox, ...(s.seabios ? [s.seabios] : [])].every((p) => existsSync(p))) return s;
  }
  const debs = join(cacheDir, 'debs');
  let sources: GuestSources;
  try {
    if (vm === 'v86') {
      log('vm-assets: kernel linux-image-686 (i386)');
      const kernel = await ensureDebianKernel('686', debs);
      log('vm-assets: seabios, busybox-static:i386');
      const seabios = await ensureDebianPackage('seabios', debs);
      const busybox = await ensureDebianPackage('busybox-static:i386', debs, 'i386');
      sources = { kernel, busybox: join(busybox.root, 'bin/busybox'), seabios: seabios.root };
    } else {
      log('vm-assets: kernel linux-image-amd64, busybox-static');
      const kernel = await ensureDebianKernel('amd64', debs);
      const busybox = await ensureDebianPackage('busybox-static', debs);
      sources = { kernel, busybox: join(busybox.root, 'bin/busybox') };
    }
  } catch (e) {
    if (e instanceof VmAssetError && e.code !== 'MISSING_ASSET') throw new VmAssetError(`${e.message}: ${aptHint(vm)}`, e.code, { cause: e });
    throw e;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(sources, null, 1) + '\n');
  return sources;
}

/** The i386 busybox of the v86 guest (also the userland of the 386 fixture image). */
export async function ensureGuestBusybox(arch: 'i386' | 'amd64', cacheDir = defaultVmCacheDir()): Promise<string> {
  const pkg = await ensureDebianPackage(arch === 'i386' ? 'busybox-static:i386' : 'busybox-static', join(cacheDir, 'debs'), arch === 'i386' ? 'i386' : undefined);
  return join(pkg.root, 'bin/busybox');
}

function copyIfChanged(from: string, to: string): string {
  const data = readFileSync(from);
  if (!existsSync(to) || !readFileSync(to).equals(data)) {
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(`${to}.tmp-${process.pid}`, data);
    renameSync(`${to}.tmp-${process.pid}`, to);
  }
  return to;
}

export interface InitramfsInput {
  kernel: GuestKernel;
  /** A static busybox for the kernel's architecture. */
  busybox: string;
  nic: Nic;
}

/** The initramfs entries: busybox and its links, the modules, /init and its helpers. */
export function initramfsEntries(input: InitramfsInput & { extraFiles?: Record<string, string | Uint8Array> }): CpioEntry[] {
  const modules = resolveModules(input.kernel.modulesDir, [...NIC_MODULES[input.nic], ...FS_MODULES]);
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'usr/share', 'usr/share/udhcpc', 'lib', 'lib/modules', 'lib/imagemounter', 'proc', 'sys', 'dev', 'etc', 'etc/udhcpc', 'tmp', 'run', 'root']) {
    entries.push({ path: d, type: 'dir' });
  }
  entries.push({ path: 'bin/busybox', type: 'file', data: readFileSync(input.busybox), mode: 0o755 });
  for (const a of APPLETS.bin) entries.push({ path: `bin/${a}`, type: 'symlink', target: 'busybox' });
  for (const a of APPLETS.sbin) entries.push({ path: `sbin/${a}`, type: 'symlink', target: '../bin/busybox' });
  for (const m of modules) entries.push({ path: `lib/modules/${m.name}.ko`, type: 'file', data: readFileSync(m.path) });
  entries.push({ path: 'init', type: 'file', data: initScript(modules.map((m) => m.name)), mode: 0o755 });
  entries.push({ path: JSON_AWK_PATH, type: 'file', data: JSON_AWK });
  // Upstream busybox (the c2w VM's) looks in /usr/share/udhcpc; Debian's was built to look in /etc/udhcpc.
  entries.push({ path: 'usr/share/udhcpc/default.script', type: 'file', data: UDHCPC_SCRIPT, mode: 0o755 });
  entries.push({ path: 'etc/udhcpc/default.script', type: 'file', data: UDHCPC_SCRIPT, mode: 0o755 });
  for (const [path, data] of Object.entries(input.extraFiles ?? {})) entries.push({ path, type: 'file', data, mode: 0o755 });
  return entries;
}

/** Builds (or finds) the gzipped initramfs; its name is a hash of every byte that goes in. */
export function buildInitramfs(input: InitramfsInput & { outDir: string }): string {
  const cpio = writeCpio(initramfsEntries(input));
  const hash = createHash('sha256').update(cpio).digest('hex').slice(0, 16);
  const out = join(input.outDir, `initramfs-${hash}.cpio.gz`);
  if (existsSync(out)) return out;
  mkdirSync(input.outDir, { recursive: true });
  writeFileSync(`${out}.tmp-${process.pid}`, gzipSync(cpio, { level: 6 }));
  renameSync(`${out}.tmp-${process.pid}`, out);
  pruneOldest(input.outDir, /^initramfs-[0-9a-f]+\.cpio\.gz$/, 4);
  return out;
}

/** Each change of /init makes a new file: keep the newest few. */
export function pruneOldest(dir: string, pattern: RegExp, keep: number): void {
  const files = readdirSync(dir)
    .filter((f) => pattern.test(f))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(keep)) rmSync(join(dir, f), { force: true });
}
