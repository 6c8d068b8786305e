// The embedded v86 VM (issue 8): time to the container's first output in Node (runInVm,
// cold boot with a fresh snapshot directory, then from the snapshot that boot saved), time
// to the shell prompt in Chromium (cold context, then from the IndexedDB boot snapshot),
// and inside the guest `find | wc -l` and `cat` of a 10 MiB file on our 9P mount (virtual
// network + TCP + 9P server) against the same tree in v86's own virtio-9p filesystem —
// the emulator's limit. Ratios are speed ratios: reference time / our time (<1: slower).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { mountImage } from '../src/mount.js';
import { createNodeFetch, nodeCodecs } from '../src/node/index.js';
import { ensureVmAssets, runInVm, type VmAssets } from '../src/vm/index.js';
import { getFixtures } from '../test/helpers/fixtures.js';
import { measureChromium } from './v86-chromium.js';
import { guestSources, measureInGuest } from './v86-guest.js';
import { BIG_BYTES, makeV86BenchImage } from './v86-image.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const s = (x: number) => `${x.toFixed(1)} s`;

/** Call → first byte of the container's output (`echo ready`), and the run's own marks. */
async function timeToOutput(assets: VmAssets, layoutDir: string, snapshotDir: string): Promise<{ seconds: number; marks: string }> {
  const session = await mountImage({ image: layoutDir, platform: 'linux/386', fetch: createNodeFetch(), codecs: nodeCodecs() });
  const t0 = performance.now();
  let first: number | undefined;
  let out = '';
  const marks: string[] = [];
  try {
    const status = await runInVm({
      session,
      assets,
      args: ['/bin/sh', '-c', 'echo ready'],
      snapshotDir,
      stdout: new Writable({
        write(chunk: Buffer, _enc, cb) {
          first ??= performance.now();
          out += chunk.toString();
          cb();
        },
      }),
      onTiming: (mark, ms) => marks.push(`${mark.replace(/ \(.*/, '')} ${s(ms / 1000)}`),
    });
    if (status !== 0 || out !== 'ready\n' || first === undefined) throw new Error(`the container said ${JSON.stringify(out)} and exited ${status}`);
    return { seconds: (first - t0) / 1000, marks: marks.join(', ') };
  } finally {
    session.close();
  }
}

const benchStart = performance.now();
const tmp = mkdtempSync(join(tmpdir(), 'imagemounter-v86-bench-'));
try {
  const assets = await ensureVmAssets({ vm: 'v86' });
  const fx = await getFixtures();
  if (!fx.run386) throw new Error('the 386 fixture needs busybox-static:i386 (npm run vm-assets)');

  // 1. Node: a fresh snapshot directory, so the first run boots cold and saves the snapshot.
  const snapshots = join(tmp, 'snapshots');
  const cold = await timeToOutput(assets, fx.run386.dir, snapshots);
  const warm = await timeToOutput(assets, fx.run386.dir, snapshots);
  console.log(`v86 Node: cold ${s(cold.seconds)}, snapshot ${s(warm.seconds)} to container output (the snapshot ${(cold.seconds / warm.seconds).toFixed(1)}× faster)`);
  console.log(`  cold marks: ${cold.marks}`);
  console.log(`  snapshot marks: ${warm.marks}`);

  // 2. Inside the guest: our 9P mount against v86's virtio-9p.
  const src = guestSources(assets);
  const image = await makeV86BenchImage(join(tmp, 'image'), readFileSync(src.busybox));
  const g = await measureInGuest(assets, src.kernel, src.busybox, image);
  const best = (name: string) => {
    const runs = g.seconds[name];
    if (!runs?.length) throw new Error(`the guest did not time ${name}: ${JSON.stringify(g)}`);
    return Math.max(Math.min(...runs), 0.01);
  };
  const findOurs = best('find-9p');
  const findRef = best('find-local');
  const entries = g.results['find-9p'];
  if (entries !== g.results['find-local']) throw new Error(`find counted ${entries} entries on 9P, ${g.results['find-local']} on v86's 9P`);
  const catOurs = best('cat-9p');
  const catRef = best('cat-local');
  const mbs = (sec: number) => `${(BIG_BYTES / 1e6 / sec).toFixed(1)} MB/s`;
  const runs = (name: string) => g.seconds[name]!.map((x) => x.toFixed(2)).join('/');
  console.log(`v86 guest find / | wc -l: ${entries} entries in ${findOurs.toFixed(2)} s; reference (v86 virtio-9p) ${findRef.toFixed(2)} s → ${(findRef / findOurs).toFixed(2)}×`);
  console.log(`v86 guest cat 10 MiB: ${mbs(catOurs)} (${catOurs.toFixed(2)} s); reference (v86 virtio-9p) ${mbs(catRef)} (${catRef.toFixed(2)} s) → ${(catRef / catOurs).toFixed(2)}×`);
  console.log(`  guest: cold boot to READY ${s(g.bootSeconds)}; caches dropped before each command; runs (s, best counted) find ${runs('find-9p')} vs ${runs('find-local')}, cat ${runs('cat-9p')} vs ${runs('cat-local')}`);
  console.log(`  ours: the image's rootfs at /run/9pbundle/rootfs as /init mounts it (trans=tcp, msize=5000000, cache=loose); reference: the same tree in v86's in-memory 9P (trans=virtio, cache=loose)`);

  // 3. Chromium: the page, cold and from the boot snapshot.
  const script = join(root, 'scripts/build-web.mjs');
  const { buildWeb } = (await import(script)) as { buildWeb(o: { outdir: string }): Promise<string> };
  const webRoot = await buildWeb({ outdir: join(root, '.cache/bench/v86/web') });
  const c = await measureChromium({ webRoot, vmAssetsDir: dirname(assets.initrd), layoutDir: fx.run386.dir });
  console.log(`v86 Chromium: cold ${s(c.cold.promptSeconds)}, snapshot ${s(c.snapshot.promptSeconds)} to prompt (${(c.cold.promptSeconds / c.snapshot.promptSeconds).toFixed(1)}×; target < 3 s from the snapshot)`);
  console.log(`  navigation → container started: cold ${s(c.cold.runningSeconds)}, snapshot ${s(c.snapshot.runningSeconds)}; Chromium ${c.chromium}; page said "${c.snapshot.status}"`);
  // Every figure here is CPU-bound emulation: on shared cores they scale with the load.
  console.log(`  whole v86 bench ${s((performance.now() - benchStart) / 1000)}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
