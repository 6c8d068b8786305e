// 9P serving seen from a real Linux client: the same QEMU guest (TCG) and transport
// (QEMU user network, guestfwd to a QEMU socket chardev) mount our `serve-9p` and
// Debian's diod exporting the same tree unpacked on disk by umoci. Measured in the guest
// with its caches dropped before each run: sequential read of a 64 MiB file (dd bs=1M)
// and a find+stat walk of the whole tree. Best of ROUNDS; ratios are speed ratios (>1: we
// are faster). Not the nc forward the acceptance test uses: nc's socket stalls diod's
// two-part replies for 40 ms each (Nagle against delayed ACKs), 1.4 MB/s instead of ~29.
import { fileURLToPath } from 'node:url';
import { buildInitramfs } from '../test/guest/initramfs.js';
import { ensureGuestKernel } from '../test/guest/kernel.js';
import { runGuest } from '../test/guest/qemu.js';
import { readBundleConfig, startDiod, startServe9p, unpackForDiod, type Running9p } from '../test/guest/servers.js';
import { BIG_PATH, BIG_SIZE, makeP9BenchImage } from './p9-image.js';
import { benchScript, parseBench, type BenchResult } from './p9-guest.js';

const ROUNDS = 5;
const root = fileURLToPath(new URL('../', import.meta.url));

const [image, kernel] = await Promise.all([makeP9BenchImage(`${root}.cache/bench/p9`), ensureGuestKernel()]);
const diodDir = await unpackForDiod(image.dir, image.tag, await readBundleConfig(image.dir));

async function measure(name: string, start: () => Promise<Running9p>, aname?: string): Promise<BenchResult> {
  const server = await start();
  try {
    const initrd = await buildInitramfs({ kernel, checks: benchScript(BIG_PATH, ROUNDS), aname });
    const run = await runGuest({ kernel: kernel.vmlinuz, initrd, serve9p: { host: '127.0.0.1', port: server.port }, timeoutMs: 600_000, forward: 'chardev' });
    if (run.exitReason !== 'poweroff' || run.checks === undefined) {
      throw new Error(`${name}: guest ${run.exitReason}:\n${run.output.slice(-3000)}\nserver:\n${server.output()}`);
    }
    const r = parseBench(run.checks);
    if (r.errors.length > 0 || r.read.length !== ROUNDS || r.walk.length !== ROUNDS) {
      throw new Error(`${name}: ${r.errors.join('; ') || 'missing measurements'}\n${run.checks}`);
    }
    return r;
  } finally {
    await server.stop();
  }
}

const ours = await measure('serve-9p', () => startServe9p(image.dir));
const diod = await measure('diod', () => startDiod(diodDir), diodDir);

const best = (xs: number[]) => Math.max(Math.min(...xs), 0.01);
const mbs = (r: BenchResult) => BIG_SIZE / 1e6 / best(r.read);
const msize = (r: BenchResult) => /msize=(\d+)/.exec(r.mountLine)?.[1] ?? '?';
console.log(`9p (Linux ${kernel.version} guest under QEMU TCG, best of ${ROUNDS}, caches dropped each time):`);
console.log(`  sequential read ${BIG_SIZE / 2 ** 20} MiB: serve-9p ${mbs(ours).toFixed(1)} MB/s, diod ${mbs(diod).toFixed(1)} MB/s, ratio ${(mbs(ours) / mbs(diod)).toFixed(2)}`);
console.log(`  find+stat of ${ours.walkEntries} entries: serve-9p ${best(ours.walk).toFixed(2)} s, diod ${best(diod.walk).toFixed(2)} s, ratio ${(best(diod.walk) / best(ours.walk)).toFixed(2)}`);
console.log(`  negotiated msize: serve-9p ${msize(ours)}, diod ${msize(diod)} (ratios: >1 means serve-9p is faster)`);
console.log(`  samples (s): serve-9p read ${ours.read.join(' ')} walk ${ours.walk.join(' ')}; diod read ${diod.read.join(' ')} walk ${diod.walk.join(' ')}`);
if (ours.walkEntries !== diod.walkEntries) {
  console.log(`  walk saw ${ours.walkEntries} entries on serve-9p but ${diod.walkEntries} on diod`);
  process.exitCode = 1;
}
