// The guest benchmarks' shared half: the image, the kernel and diod's copy of the tree,
// one measured guest boot against a server, and the printed comparison. p9.bench.ts
// (serve-9p vs diod, both over QEMU's user network) and net.bench.ts (our whole virtual
// network vs QEMU's user network + diod) differ only in what they start and connect.
import { fileURLToPath } from 'node:url';
import { buildInitramfs } from '../test/guest/initramfs.js';
import { ensureGuestKernel, type GuestKernel } from '../test/guest/kernel.js';
import { requireChecks, runGuest, type FrameStreamGuest, type UserNetGuest } from '../test/guest/qemu.js';
import { readBundleConfig, startDiod, unpackForDiod, type Running9p } from '../test/guest/servers.js';
import { BIG_PATH, BIG_SIZE, makeP9BenchImage, type P9BenchImage } from './p9-image.js';
import { benchScript, parseBench, type BenchResult } from './p9-guest.js';

export const ROUNDS = 5;

export interface BenchRig {
  image: P9BenchImage;
  kernel: GuestKernel;
  /** The same tree unpacked on disk, exported by diod (and its aname). */
  diodDir: string;
}

export async function benchRig(): Promise<BenchRig> {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const [image, kernel] = await Promise.all([makeP9BenchImage(`${root}.cache/bench/p9`), ensureGuestKernel()]);
  const diodDir = await unpackForDiod(image.dir, image.tag, await readBundleConfig(image.dir));
  return { image, kernel, diodDir };
}

/** How QEMU's NIC reaches a server listening on `port`. */
export type NetFor = (port: number) => Omit<UserNetGuest, 'kernel' | 'initrd' | 'timeoutMs'> | Omit<FrameStreamGuest, 'kernel' | 'initrd' | 'timeoutMs'>;

/**
 * QEMU's user network with its socket chardev forward — not the nc forward the acceptance
 * test uses: nc's socket stalls diod's two-part replies for 40 ms each (Nagle against
 * delayed ACKs), 1.4 MB/s instead of ~29. One connection, which is all the bench needs.
 */
export const userNet: NetFor = (port) => ({ serve9p: { host: '127.0.0.1', port }, forward: 'chardev' });

/** Boots the guest once against the server `start` brings up; ROUNDS read and walk timings. */
export async function measure(rig: BenchRig, name: string, start: () => Promise<Running9p>, net: NetFor, aname?: string): Promise<BenchResult> {
  const server = await start();
  try {
    const initrd = await buildInitramfs({ kernel: rig.kernel, checks: benchScript(BIG_PATH, ROUNDS), aname });
    const run = await runGuest({ kernel: rig.kernel.vmlinuz, initrd, timeoutMs: 600_000, ...net(server.port) });
    const checks = requireChecks(run, name, server.output());
    const r = parseBench(checks);
    if (r.errors.length > 0 || r.read.length !== ROUNDS || r.walk.length !== ROUNDS) {
      throw new Error(`${name}: ${r.errors.join('; ') || 'missing measurements'}\n${checks}`);
    }
    return r;
  } finally {
    await server.stop();
  }
}

export function measureDiod(rig: BenchRig): Promise<BenchResult> {
  return measure(rig, 'diod', () => startDiod(rig.diodDir), userNet, rig.diodDir);
}

const best = (xs: number[]) => Math.max(Math.min(...xs), 0.01);
const mbs = (r: BenchResult) => BIG_SIZE / 1e6 / best(r.read);
const msize = (r: BenchResult) => /msize=(\d+)/.exec(r.mountLine)?.[1] ?? '?';

/** Prints both sides and the speed ratios (>1: ours is faster); sets a failing exit code if the walks differ. */
export function printComparison(title: string, rig: BenchRig, ours: { name: string; r: BenchResult }, ref: { name: string; r: BenchResult }): void {
  const [o, d] = [ours.r, ref.r];
  console.log(`${title} (Linux ${rig.kernel.version} guest under QEMU TCG, best of ${ROUNDS}, caches dropped each time):`);
  console.log(`  sequential read ${BIG_SIZE / 2 ** 20} MiB: ${ours.name} ${mbs(o).toFixed(1)} MB/s, ${ref.name} ${mbs(d).toFixed(1)} MB/s, ratio ${(mbs(o) / mbs(d)).toFixed(2)}`);
  console.log(`  find+stat of ${o.walkEntries} entries: ${ours.name} ${best(o.walk).toFixed(2)} s, ${ref.name} ${best(d.walk).toFixed(2)} s, ratio ${(best(d.walk) / best(o.walk)).toFixed(2)}`);
  console.log(`  negotiated msize: ${ours.name} ${msize(o)}, ${ref.name} ${msize(d)} (ratios: >1 means ${ours.name} is faster)`);
  console.log(`  samples (s): ${ours.name} read ${o.read.join(' ')} walk ${o.walk.join(' ')}; ${ref.name} read ${d.read.join(' ')} walk ${d.walk.join(' ')}`);
  if (o.walkEntries !== d.walkEntries) {
    console.log(`  walk saw ${o.walkEntries} entries on ${ours.name} but ${d.walkEntries} on ${ref.name}`);
    process.exitCode = 1;
  }
}
