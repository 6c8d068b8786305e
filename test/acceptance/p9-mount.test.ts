// A real 9P client: Debian's Linux kernel booted under QEMU (TCG) mounts the served tree
// exactly as the c2w VM does, lists and hashes every entry, reads the bundle config,
// builds the VM's overlayfs root and runs a program of the image in it, and probes that
// every change is refused. The test compares what the kernel saw with `manifest`.
// Here the guest is on QEMU's user network and reaches `serve-9p` through a guestfwd;
// net-mount.test.ts runs the same checks through our own virtual network.
import { afterAll, beforeAll, describe } from 'vitest';
import type { FixtureSet } from '../../fixtures/generate.js';
import { runCli } from '../helpers/cli.js';
import { expectOk } from '../helpers/cli-expect.js';
import { getFixtures } from '../helpers/fixtures.js';
import { parseManifest } from '../helpers/tree.js';
import { checksScript, parseReport } from '../guest/checks.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { ensureGuestKernel, type GuestKernel } from '../guest/kernel.js';
import { IMAGES, mountTests, type MountRun } from '../guest/mount-suite.js';
import { requireChecks, runGuest } from '../guest/qemu.js';
import { readBundleConfig, startDiod, startServe9p, unpackForDiod, type Running9p } from '../guest/servers.js';

/**
 * The servers the guest mounts. `serve-9p` is the subject; diod (native, exporting the
 * same tree unpacked by umoci) proves the rig itself. Drop one to run the other alone.
 */
const SERVERS = ['serve-9p', 'diod'] as const;

// Boot + checks take ~10–30 s under TCG on 2 cores; the bound is generous for loaded CI machines.
const GUEST_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 300_000;

let fx: FixtureSet;
let kernel: GuestKernel;

beforeAll(async () => {
  [fx, kernel] = await Promise.all([getFixtures(), ensureGuestKernel()]);
});

describe.each(IMAGES)('9P mount by a Linux guest: $name', (img) => {
  describe.each(SERVERS)('%s', (server) => {
    let result: MountRun;
    let srv: Running9p | undefined;

    beforeAll(async () => {
      const layout = img.layout(fx);
      const manifest = parseManifest(expectOk(await runCli(['manifest', layout.dir])).stdout);
      let aname: string | undefined;
      if (server === 'diod') {
        const u = img.umoci(fx);
        aname = await unpackForDiod(u.dir, u.tag, await readBundleConfig(layout.dir));
        srv = await startDiod(aname);
      } else {
        srv = await startServe9p(layout.dir);
      }
      const initrd = await buildInitramfs({ kernel, checks: checksScript(img.checks), aname });
      const run = await runGuest({ kernel: kernel.vmlinuz, initrd, serve9p: { host: '127.0.0.1', port: srv.port }, timeoutMs: GUEST_TIMEOUT_MS });
      result = { run, report: parseReport(requireChecks(run, server, srv.output())), manifest, layout };
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      await srv?.stop();
    });

    mountTests(img, server, () => result);
  });
});
