// Debian's amd64 kernel for the guest rig, fetched from the apt archive at set-up time
// (`apt-get download` + `dpkg -x`), never committed. Cached under .cache/guest keyed by
// the package name and version, so a kernel update in the archive gives a new entry.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const DEFAULT_CACHE = fileURLToPath(new URL('../../.cache/guest', import.meta.url));

export interface GuestKernel {
  vmlinuz: string;
  /** lib/modules/<version> of the extracted package (no modules.dep: depmod runs at install, not in the .deb). */
  modulesDir: string;
  /** Kernel release, e.g. 6.1.0-56-amd64. */
  version: string;
}

async function sh(cmd: string, args: string[], cwd?: string): Promise<string> {
  return (await exec(cmd, args, { cwd, maxBuffer: 16 << 20 })).stdout;
}

/** The versioned image package the `linux-image-amd64` meta-package points at, and its version. */
async function resolvePackage(): Promise<{ pkg: string; version: string }> {
  const deps = await sh('apt-cache', ['depends', 'linux-image-amd64']);
  const pkg = /Depends: (linux-image-\d[^\s]*-amd64)\b/.exec(deps)?.[1];
  if (!pkg) throw new Error(`cannot find the kernel package in: ${deps}`);
  const show = await sh('apt-cache', ['show', '--no-all-versions', pkg]);
  const version = /^Version: (\S+)/m.exec(show)?.[1];
  if (!version) throw new Error(`no version for ${pkg}`);
  return { pkg, version };
}

/** Lists may be missing on a fresh machine or container: refresh them once and retry. */
async function withAptLists<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch {
    await sh('apt-get', ['update', '-qq']);
    return fn();
  }
}

let pending: Promise<GuestKernel> | undefined;

export function ensureGuestKernel(cacheDir = DEFAULT_CACHE): Promise<GuestKernel> {
  // One download per process even when several tests ask at once.
  if (cacheDir === DEFAULT_CACHE) return (pending ??= fetchKernel(cacheDir));
  return fetchKernel(cacheDir);
}

async function fetchKernel(cacheDir: string): Promise<GuestKernel> {
  let resolved: { pkg: string; version: string } | undefined;
  try {
    resolved = await withAptLists(resolvePackage);
  } catch (e) {
    // Offline with a warm cache: any kernel already extracted will do.
    const have = existsSync(cacheDir) ? readdirSync(cacheDir).filter((d) => existsSync(join(cacheDir, d, 'kernel.json'))) : [];
    if (have.length === 0) throw e;
    return JSON.parse(readFileSync(join(cacheDir, have.sort().at(-1)!, 'kernel.json'), 'utf8')) as GuestKernel;
  }
  const entry = join(cacheDir, `${resolved.pkg}_${resolved.version}`);
  const stamp = join(entry, 'kernel.json');
  if (existsSync(stamp)) return JSON.parse(readFileSync(stamp, 'utf8')) as GuestKernel;

  // Download and extract beside the entry, then rename: an interrupted run leaves no half cache.
  const tmp = `${entry}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await withAptLists(() => sh('apt-get', ['download', `${resolved.pkg}=${resolved.version}`], tmp));
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${resolved.pkg} left no .deb`);
    await sh('dpkg', ['-x', join(tmp, deb), join(tmp, 'root')]);
    rmSync(join(tmp, deb));
    const release = readdirSync(join(tmp, 'root/lib/modules'))[0];
    if (!release) throw new Error(`${resolved.pkg} holds no lib/modules`);
    const kernel: GuestKernel = {
      vmlinuz: join(entry, 'root/boot', `vmlinuz-${release}`),
      modulesDir: join(entry, 'root/lib/modules', release),
      version: release,
    };
    writeFileSync(join(tmp, 'kernel.json'), JSON.stringify(kernel, null, 1));
    try {
      renameSync(tmp, entry);
    } catch (e) {
      // A parallel run finished the same version first: use its copy.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(stamp)) throw e;
    }
    return kernel;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
