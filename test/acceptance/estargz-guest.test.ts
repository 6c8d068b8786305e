// A lazily pulled image in the VM: the `layers` fixture converted to eStargz is served by
// `imagemounter serve` to the Linux guest on our virtual network. The guest runs the whole
// mount suite (every file hashed, a program run in the overlay root) while file contents
// arrive chunk by chunk over HTTP Range; the test reports what was fetched.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { removeTempDir, tempDir } from '../helpers/procs.js';
import { parseManifest } from '../helpers/tree.js';
import { checksScript, parseReport } from '../guest/checks.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { ensureGuestKernel } from '../guest/kernel.js';
import { IMAGES, mountTests, type MountRun } from '../guest/mount-suite.js';
import { requireChecks, runGuest } from '../guest/qemu.js';
import { startServe, type Running9p } from '../guest/servers.js';

const GUEST_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 300_000;
const FETCHED = /fetched (\d+) of (\d+) layer bytes \(([\d.]+)%\)/g;

const layers = IMAGES.find((i) => i.name === 'layers')!;

/** The config digest of the single manifest of an OCI layout on disk. */
function layoutConfigDigest(dir: string): string {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const blob = (digest: string) => readFileSync(join(dir, 'blobs', ...digest.split(':')), 'utf8');
  const manifest = JSON.parse(blob(index.manifests[0]!.digest)) as { config: { digest: string } };
  return manifest.config.digest;
}

describe('an eStargz image served lazily to a Linux guest (imagemounter serve)', () => {
  let out: string;
  let result: MountRun;
  let srv: Running9p | undefined;
  let fetched: { bytes: number; total: number; percent: number }[] = [];

  beforeAll(async () => {
    const [fx, kernel] = await Promise.all([getFixtures(), ensureGuestKernel()]);
    out = tempDir('esgz-guest');
    const esgz = join(out, 'layout');
    expectOk(await runCli(['convert', fx.layers.dir, '--out', esgz, '--chunk-size', '1048576']));
    const manifest = parseManifest(expectOk(await runCli(['manifest', esgz])).stdout);
    // Without background fetching, what serve fetched is what the guest asked for.
    srv = await startServe(esgz, ['--no-background-fetch']);
    const initrd = await buildInitramfs({ kernel, checks: checksScript(layers.checks) });
    const run = await runGuest({ kernel: kernel.vmlinuz, initrd, frames: { host: '127.0.0.1', port: srv.port }, timeoutMs: GUEST_TIMEOUT_MS });
    result = { run, report: parseReport(requireChecks(run, 'serve', srv.output())), manifest, layout: { configDigest: layoutConfigDigest(esgz) } };
    await srv.stop();
    // serve logs what it fetched once the tree is up and again when it stops.
    for (let waited = 0; [...srv.output().matchAll(FETCHED)].length < 2 && waited < 3000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
    }
    fetched = [...srv.output().matchAll(FETCHED)].map((m) => ({ bytes: Number(m[1]), total: Number(m[2]), percent: Number(m[3]) }));
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await srv?.stop();
    if (out) removeTempDir(out);
  });

  mountTests(layers, 'serve', () => result);

  test('only the footers and TOCs are fetched before the guest reads, then what it read', () => {
    expect(fetched).toHaveLength(2);
    const [atStart, atExit] = fetched as [(typeof fetched)[0], (typeof fetched)[0]];
    console.log(`eStargz in the guest: ${atStart.bytes} of ${atStart.total} layer bytes (${atStart.percent}%) before the mount, ${atExit.bytes} (${atExit.percent}%) after every file was read`);
    expect(atStart.percent).toBeLessThan(5);
    // The guest hashed every file, so nearly everything was fetched, and never more than once.
    expect(atExit.bytes).toBeGreaterThan(atStart.bytes);
    expect(atExit.bytes).toBeLessThanOrEqual(atExit.total * 1.05);
  });
});
