// Debian's amd64 kernel for the guest rig, fetched from the apt archive at set-up time
// (`apt-get download` + `dpkg -x`, src/vm/debian.ts), never committed. Cached under
// .cache/guest keyed by the package name and version, so a kernel update in the archive
// gives a new entry.
import { fileURLToPath } from 'node:url';
import { ensureDebianKernel, type GuestKernel } from '../../src/vm/index.js';

export type { GuestKernel };

const DEFAULT_CACHE = fileURLToPath(new URL('../../.cache/guest', import.meta.url));

let pending: Promise<GuestKernel> | undefined;

export function ensureGuestKernel(cacheDir = DEFAULT_CACHE): Promise<GuestKernel> {
  // One download per process even when several tests ask at once.
  if (cacheDir === DEFAULT_CACHE) return (pending ??= ensureDebianKernel('amd64', cacheDir));
  return ensureDebianKernel('amd64', cacheDir);
}
