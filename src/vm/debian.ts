// Guest assets from Debian's archive: `apt-get download` + `dpkg -x`, cached in a
// directory keyed by package and version, so an archive update gives a new entry and an
// offline machine with a warm cache still works. Nothing fetched here is committed.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export class VmAssetError extends Error {
  constructor(
    message: string,
    readonly code: 'APT_UNAVAILABLE' | 'APT_FAILED' | 'MISSING_ASSET',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VmAssetError';
  }
}

export interface GuestKernel {
  vmlinuz: string;
  /** lib/modules/<version> of the extracted package (no modules.dep: depmod runs at install, not in the .deb). */
  modulesDir: string;
  /** Kernel release, e.g. 6.1.0-57-686. */
  version: string;
}

/** The Debian kernel flavours we boot: amd64 under QEMU, 686 (i386, no PAE) under v86. */
export type KernelFlavour = 'amd64' | '686';

const KERNEL_ARCH: Record<KernelFlavour, string> = { amd64: 'amd64', '686': 'i386' };

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    return (await exec(cmd, args, { cwd, maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new VmAssetError(`${cmd} is not installed`, 'APT_UNAVAILABLE', { cause: e });
    throw new VmAssetError(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' ')}`, 'APT_FAILED', { cause: e });
  }
}

/** Lists may be missing on a fresh machine or container: refresh them once and retry. */
async function withAptLists<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof VmAssetError && e.code === 'APT_UNAVAILABLE') throw e;
    await run('apt-get', ['update', '-qq']);
    return fn();
  }
}

/** Packages of another architecture (i386 on amd64) need it enabled in dpkg; we run as root at set-up. */
async function ensureArchitecture(arch: string): Promise<void> {
  const native = (await run('dpkg', ['--print-architecture'])).trim();
  if (native === arch) return;
  const foreign = (await run('dpkg', ['--print-foreign-architectures'])).split('\n');
  if (foreign.includes(arch)) return;
  if (process.getuid?.() !== 0) {
    throw new VmAssetError(`Debian's ${arch} packages are not enabled: run "dpkg --add-architecture ${arch} && apt-get update" as root`, 'APT_FAILED');
  }
  await run('dpkg', ['--add-architecture', arch]);
  await run('apt-get', ['update', '-qq']);
}

/** The candidate version of a package (`name` or `name:arch`). */
async function candidate(pkg: string): Promise<string> {
  const show = await run('apt-cache', ['show', '--no-all-versions', pkg]);
  const version = /^Version: (\S+)/m.exec(show)?.[1];
  if (!version) throw new VmAssetError(`no version of ${pkg} in the apt lists`, 'APT_FAILED');
  return version;
}

export interface ExtractedPackage {
  /** The package as asked (`busybox-static:i386`). */
  pkg: string;
  version: string;
  /** Where the package's files were extracted (`dpkg -x` root). */
  root: string;
}

/**
 * Downloads and extracts one package (`name` or `name:arch`) under `cacheDir`, unless
 * that version is there already. Offline, any cached version is used.
 */
export async function ensureDebianPackage(pkg: string, cacheDir: string, arch?: string): Promise<ExtractedPackage> {
  const base = pkg.replace(/:.*$/, '');
  const key = (v: string) => `${base}${arch ? `_${arch}` : ''}_${v}`.replace(/[^A-Za-z0-9.+_-]/g, '_');
  let version: string;
  try {
    if (arch) await ensureArchitecture(arch);
    version = await withAptLists(() => candidate(pkg));
  } catch (e) {
    const cached = newestCached(cacheDir, `${base}${arch ? `_${arch}` : ''}_`);
    if (cached) return JSON.parse(readFileSync(join(cacheDir, cached, 'package.json'), 'utf8')) as ExtractedPackage;
    throw e;
  }
  return extract(pkg, version, join(cacheDir, key(version)), (_, root) => ({ pkg, version, root }), 'package.json');
}

/** The versioned kernel image package behind Debian's meta-package (`linux-image-686`), downloaded and extracted. */
export async function ensureDebianKernel(flavour: KernelFlavour, cacheDir: string): Promise<GuestKernel> {
  const arch = KERNEL_ARCH[flavour];
  let pkg: string;
  let version: string;
  try {
    await ensureArchitecture(arch);
    ({ pkg, version } = await withAptLists(async () => {
      const deps = await run('apt-cache', ['depends', `linux-image-${flavour}:${arch}`]);
      const name = new RegExp(`Depends: (linux-image-\\d[^\\s:]*-${flavour})\\b`).exec(deps)?.[1];
      if (!name) throw new VmAssetError(`cannot find the kernel package in: ${deps}`, 'APT_FAILED');
      return { pkg: `${name}:${arch}`, version: await candidate(`${name}:${arch}`) };
    }));
  } catch (e) {
    // Offline with a warm cache: any kernel already extracted will do.
    const cached = newestCached(cacheDir, 'linux-image-', 'kernel.json', (d) => d.endsWith(`-${flavour}`) || d.includes(`-${flavour}_`));
    if (cached) return JSON.parse(readFileSync(join(cacheDir, cached, 'kernel.json'), 'utf8')) as GuestKernel;
    throw e;
  }
  const entry = join(cacheDir, `${pkg.replace(/:.*$/, '')}_${version}`);
  return extract(
    pkg,
    version,
    entry,
    (extracted, root) => {
      const release = readdirSync(join(extracted, 'lib/modules'))[0];
      if (!release) throw new VmAssetError(`${pkg} holds no lib/modules`, 'MISSING_ASSET');
      return { vmlinuz: join(root, 'boot', `vmlinuz-${release}`), modulesDir: join(root, 'lib/modules', release), version: release };
    },
    'kernel.json',
  );
}

function newestCached(cacheDir: string, prefix: string, stamp = 'package.json', filter: (d: string) => boolean = () => true): string | undefined {
  if (!existsSync(cacheDir)) return undefined;
  return readdirSync(cacheDir)
    .filter((d) => d.startsWith(prefix) && filter(d) && existsSync(join(cacheDir, d, stamp)))
    .sort()
    .at(-1);
}

/** Download and extract beside the entry, then rename: an interrupted run leaves no half cache. */
async function extract<T>(pkg: string, version: string, entry: string, describe: (extracted: string, root: string) => T, stampName: string): Promise<T> {
  const stamp = join(entry, stampName);
  if (existsSync(stamp)) return JSON.parse(readFileSync(stamp, 'utf8')) as T;
  const tmp = `${entry}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await withAptLists(() => run('apt-get', ['download', `${pkg}=${version}`], tmp));
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new VmAssetError(`apt-get download ${pkg} left no .deb`, 'APT_FAILED');
    await run('dpkg', ['-x', join(tmp, deb), join(tmp, 'root')]);
    rmSync(join(tmp, deb));
    const final = describe(join(tmp, 'root'), join(entry, 'root'));
    writeFileSync(join(tmp, stampName), JSON.stringify(final, null, 1));
    try {
      renameSync(tmp, entry);
    } catch (e) {
      // A parallel run finished the same version first: use its copy.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(stamp)) throw e;
    }
    return final;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
